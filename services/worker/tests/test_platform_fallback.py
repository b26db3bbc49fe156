"""Without Linux's pidfd (macOS): the in-process mode works, fork per job refuses to start.

A ``sitecustomize`` on PYTHONPATH deletes ``os.pidfd_open`` in the worker process
before anything else runs, as on a platform that never had it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from worker_harness import Events

from resque_proto import Resque

NO_PIDFD = "import os\n\ndel os.pidfd_open\n"


@pytest.fixture
def no_pidfd_env(worker_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_PIDFD)
    path = os.pathsep.join([str(site), worker_env["PYTHONPATH"]])
    return {**worker_env, "PYTHONPATH": path, "INTERVAL": "0"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_the_sitecustomize_removes_pidfd(no_pidfd_env: dict[str, str]) -> None:
    result = run(no_pidfd_env, "-c", "import os; print(hasattr(os, 'pidfd_open'))")
    assert result.stdout.strip() == "False", result.stderr


def test_in_process_mode_runs_jobs_without_pidfd(
    no_pidfd_env: dict[str, str], resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Record", "no-pidfd")
    resque.enqueue("test", "Fatal", "boom")
    result = run({**no_pidfd_env, "FORK_PER_JOB": "false"}, "-m", "resque_worker")
    assert result.returncode == 0, result.stderr
    assert events.of("ran", tag="no-pidfd")
    assert resque.stats.processed() == 2 and resque.failures.count() == 1


def test_fork_per_job_without_pidfd_stops_at_start_with_one_line(
    no_pidfd_env: dict[str, str], resque: Resque
) -> None:
    resque.enqueue("test", "Record", "never")
    result = run(no_pidfd_env, "-m", "resque_worker")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("resque-worker: FORK_PER_JOB needs"), lines
    assert "FORK_PER_JOB=false" in lines[0]
    assert resque.queues.size("test") == 1 and resque.workers.ids() == []
