"""A team's own worker image (deploy/examples/custom-worker): built ``FROM
resque-py/worker`` with its job modules and their pinned dependencies, run in
the Compose stack with the example's override file (the documented way), it
takes a job a Ruby producer wrote and runs it, dependency included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from e2e_support.images import REPO, VERSION, build_all
from e2e_support.polling import wait_for
from e2e_support.stack import Stack

EXAMPLE = REPO / "deploy" / "examples" / "custom-worker"
CA_FILE = Path("/etc/ssl/certs/ca-certificates.crt")
RESULT_KEY = "acme:report-sizes"  # jobs/reports.py


def docker_build_cli() -> str:
    """A docker CLI with BuildKit built in (deploy/docker/build-images.sh's choice)."""
    has_buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False)
    if has_buildx.returncode != 0 and Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    return shutil.which("docker") or "docker"


def build_example(tag: str) -> None:
    command = [docker_build_cli(), "build", "--network", "host", "--quiet", "--tag", tag,
               "--build-arg", f"RESQUE_PY_VERSION={VERSION}"]  # fmt: skip
    if CA_FILE.is_file():
        command += ["--secret", f"id=ca,src={CA_FILE}"]
    result = subprocess.run(
        [*command, str(EXAMPLE)],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def custom_worker_image(docker_client: docker.DockerClient) -> Iterator[str]:
    build_all(("redis", "worker"))
    tag = f"resque-py-e2e/custom-worker:{uuid.uuid4().hex[:12]}"
    build_example(tag)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture
def custom_stack(
    custom_worker_image: str, docker_client: docker.DockerClient, tmp_path: Path
) -> Iterator[Stack]:
    """Only Redis and one worker of the custom image, from the Compose files."""
    stack = Stack(
        tmp_path,
        docker_client,
        name="custom-worker",
        extra_files=(EXAMPLE / "compose.override.yaml",),
        extra_env={"CUSTOM_WORKER_IMAGE": custom_worker_image},
    )
    try:
        stack.compose.run("up", "--detach", "--no-build", "--wait", "--scale", "worker=1",
                          "redis", "worker")  # fmt: skip
        yield stack
    finally:
        stack.down()


def test_the_custom_image_runs_a_job_of_its_own_module_with_its_dependency(
    custom_stack: Stack,
) -> None:
    (container,) = custom_stack.containers("worker")
    assert container.image.tags == [container.attrs["Config"]["Image"]]
    assert container.attrs["Config"]["Image"].startswith("resque-py-e2e/custom-worker:")
    redis = custom_stack.resque.redis
    # As Ruby's Resque.enqueue(SizeReport, "repo-42", 123456789) writes it.
    payload = {"class": "SizeReport", "args": ["repo-42", 123456789]}
    redis.sadd("resque:queues", "reports")
    redis.rpush("resque:queue:reports", json.dumps(payload, separators=(",", ":")))

    size = wait_for(
        lambda: redis.hget(RESULT_KEY, "repo-42"),
        timeout=60,
        what="SizeReport's result in Redis",
    )
    assert size in (b"123.5 MB", "123.5 MB")  # humanize.naturalsize, from requirements.txt
    assert custom_stack.resque.failures.all() == []
