"""Demo jobs, used by ``make run``, Compose and the tests (``RESQUE_JOBS=resque_worker.examples``).

``Archive`` is the README's job. Each run records its effect: a log line, and, when
``RESQUE_EXAMPLES_OUTPUT`` names a file, one JSON line appended to it (atomic
``O_APPEND`` writes, so several workers can share the file).
"""

from __future__ import annotations

import json
import logging
import os
import time

log = logging.getLogger("resque_worker.examples")

OUTPUT_ENV = "RESQUE_EXAMPLES_OUTPUT"


def record(job: str, **fields: object) -> None:
    line = {"job": job, "pid": os.getpid(), **fields}
    log.info("example job ran", extra=line)
    path = os.environ.get(OUTPUT_ENV)
    if path:
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


class ArchiveError(RuntimeError):
    """What FailingArchive raises."""


class Archive:
    """``Resque.enqueue(Archive, 44, "masterbrew")``: archive a repository's branch."""

    queue = "file_serve"

    @staticmethod
    def perform(repo_id: int, branch: str = "master") -> None:
        record("Archive", repo_id=repo_id, branch=branch)


class SlowArchive:
    """Archive that takes ``seconds`` (default 5): for trying signals and timeouts."""

    queue = "file_serve"

    @staticmethod
    def perform(seconds: float = 5.0, repo_id: int = 0) -> None:
        time.sleep(float(seconds))
        record("SlowArchive", repo_id=repo_id, seconds=seconds)


class FailingArchive:
    """Archive that always fails: fills the failed list for the frontend."""

    queue = "file_serve"

    @staticmethod
    def perform(repo_id: int = 0, message: str = "repository is corrupt") -> None:
        raise ArchiveError(f"cannot archive repository {repo_id}: {message}")


# Ruby class names enqueued by a Rails app, mapped to these classes.
RESQUE_CLASS_NAMES = {"Examples::Archive": Archive}
