"""Running the installed ``resque`` console script, and seeding Redis as workers do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resque_proto import Resque
from resque_proto.records import failure_id, failure_record, payload_for_record

RESQUE_SCRIPT = Path(sys.executable).with_name("resque")
UNREACHABLE = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


RunCli = Callable[..., Run]


def run_resque(redis_url: str, *args: str, **env: str) -> Run:
    """``resque ARGS`` in a subprocess, with REDIS_URL set and no other RESQUE_* setting
    inherited from the test runner's environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RESQUE_")}
    environment.update(REDIS_URL=redis_url, **env)
    done = subprocess.run(
        [str(RESQUE_SCRIPT), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_cli_error(run: Run, *fragments: str) -> None:
    """Exit 1, nothing on stdout, exactly one ``resque: ...`` line on stderr."""
    assert run.code == 1, (run.code, run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("resque: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def fail_job(
    resque: Resque,
    queue: str,
    class_name: str,
    args: Sequence[Any] = (),
    worker: str = "host:1:q",
    error: str = "boom",
) -> str:
    """Enqueue a job and fail it the way a worker does (reserve, then finish with a
    failure record); returns the record's failure id."""
    resque.enqueue(queue, class_name, *args)
    job = resque.jobs.reserve(worker, [queue])
    assert job is not None
    record = failure_record(
        payload=payload_for_record(job.payload),
        exception="RuntimeError",
        error=error,
        backtrace=["job.py:1:in `perform'"],
        worker=worker,
        queue=queue,
    )
    assert resque.jobs.finish(worker, job, 0.01, failure_record=record)
    return failure_id(record)
