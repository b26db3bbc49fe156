"""Worker lifecycle hooks for test_worker_hooks.py, in a RESQUE_JOBS module of their own
(so the hook sequences other tests check are unchanged). Each hook appends a
``lifecycle`` event; ``WORKER_TEST_FAILING_HOOK=<name>`` makes that hook raise."""

from __future__ import annotations

import os
from typing import Any

from worker_test_jobs import event


def record(name: str, **fields: Any) -> None:
    event("lifecycle", name=name, module="first", **fields)
    if os.environ.get("WORKER_TEST_FAILING_HOOK") == name:
        raise RuntimeError(f"{name} hook failed on purpose")


def before_pause(worker: Any) -> None:
    record("before_pause", worker=worker.id)


def after_pause(worker: Any) -> None:
    record("after_pause", worker=worker.id)


def queue_empty() -> None:
    record("queue_empty")


def shutdown() -> None:
    record("shutdown")


def worker_exit() -> None:
    record("worker_exit")
