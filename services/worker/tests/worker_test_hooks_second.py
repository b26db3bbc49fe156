"""A second module with worker hooks: they run after the first module's (RESQUE_JOBS order)."""

from __future__ import annotations

from worker_test_jobs import event


def queue_empty() -> None:
    event("lifecycle", name="queue_empty", module="second")


def worker_exit() -> None:
    event("lifecycle", name="worker_exit", module="second")
