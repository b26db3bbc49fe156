"""Fixtures for the e2e suite: one image build and one Compose stack per session.

Every test here is marked ``e2e``. Without a reachable Docker engine the tests
that need one are skipped with a clear message, or fail when ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from e2e_support.engine import require_engine
from e2e_support.images import REPO, build_all
from e2e_support.polling import wait_for
from e2e_support.stack import Stack

WORKERS = 8
LOG_DIR = REPO / "var" / "e2e-logs"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            # The first test pays for the image build and the stack start.
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return require_engine()


@pytest.fixture(scope="session")
def images(docker_client: docker.DockerClient) -> docker.DockerClient:
    build_all()
    return docker_client


@pytest.fixture(scope="session")
def stack(images: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("e2e"), images)
    try:
        running.up(WORKERS)
        yield running
    finally:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_file = LOG_DIR / f"{running.project}.log"
        try:
            log_file.write_text(running.logs())
        except RuntimeError as error:
            log_file.write_text(f"could not collect logs: {error}\n")
        running.down()


@pytest.fixture
def eight_workers(stack: Stack) -> Stack:
    """The stack with exactly 8 live, registered, idle workers (fresh containers for dead ones)."""
    stack.remove_exited_workers()
    stack.up(WORKERS)

    def settled() -> bool:
        hosts = stack.worker_hostnames()
        workers = stack.resque.workers.all()
        return (
            len(hosts) == WORKERS
            and len(workers) == WORKERS
            and {w.host for w in workers} == hosts
            and not any(w.busy for w in workers)
        )

    wait_for(settled, timeout=120, what=f"{WORKERS} registered idle workers, one per container")
    return stack
