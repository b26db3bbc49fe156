"""Fixtures for worker tests: real ``resque-worker`` processes on the test Redis.

``spawn_worker(*args, **env)`` starts one (stderr to a JSON-lines log file), killed
at the end of the test by its own pid. Jobs come from ``worker_test_jobs`` (next
to this file) and ``resque_worker.examples``; they append events to a file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from resque_proto import Resque, connect

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # worker_harness, worker_test_jobs

from worker_harness import Events, WorkerProcess  # noqa: E402


@pytest.fixture
def events(tmp_path: Path) -> Events:
    return Events(tmp_path / "events.jsonl")


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


@pytest.fixture
def worker_env(redis_url: str, events: Events, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "RESQUE_JOBS": "worker_test_jobs,resque_worker.examples",
        "WORKER_TEST_EVENTS": str(events.path),
        "RESQUE_EXAMPLES_OUTPUT": str(tmp_path / "examples.jsonl"),
        "RESQUE_LOG_FORMAT": "json",
        "QUEUES": "test",
        "RESQUE_HEARTBEAT_INTERVAL": "1",
    }


@pytest.fixture
def spawn_worker(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def spawn(*args: str, **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess({**worker_env, **env}, log, list(args))
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()
