"""The fork server (zygote): it forks the job children, never holds redis-py, and a worker
whose zygote dies records the running job and carries on with a new one."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker_harness import Events, WorkerProcess, wait_for
from worker_test_jobs import parent_of

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def lineage(events: Events, tag: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = wait_for(
        lambda: events.of("lineage", tag=tag), what=f"job {tag} to run"
    )
    [entry] = entries
    return entry


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_jobs_are_forked_by_a_zygote_without_redis(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Lineage", "one")
    resque.enqueue("test", "Lineage", "two")
    worker = spawn_worker(INTERVAL="0")
    assert worker.wait() == 0
    one, two = lineage(events, "one"), lineage(events, "two")
    assert one["worker"] == two["worker"] == worker.pid
    assert one["zygote"] == two["zygote"] != worker.pid
    assert one["redis_loaded"] is False and two["redis_loaded"] is False
    assert resque.stats.processed() == 2 and resque.failures.count() == 0


def test_killing_the_zygote_mid_job_is_a_dirty_exit_and_the_worker_carries_on(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    resque.enqueue("test", "Sleep", "long", 60)
    child = int(wait_for(lambda: events.of("start", tag="long"), what="the job")[0]["pid"])
    zygote = parent_of(child)
    assert parent_of(zygote) == worker.pid
    os.kill(zygote, signal.SIGKILL)
    [failure] = wait_for(resque.failures.all, what="a failure record")
    assert failure.exception == "Resque::DirtyExit"
    assert failure.error == (
        f"The fork server (zygote) died while child pid {child} ran the job; "
        "the child was killed with it"
    )
    wait_for(lambda: gone(child), what="the child to die with its zygote")
    resque.enqueue("test", "Lineage", "after")
    after = lineage(events, "after")
    assert after["worker"] == worker.pid and after["zygote"] != zygote
    assert after["redis_loaded"] is False  # the replacement was not forked from the worker
    assert not events.of("finish", tag="long")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    assert resque.failures.count() == 1 and resque.workers.ids() == []


def test_a_zygote_killed_while_idle_is_replaced_before_the_next_job(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    wait_for(lambda: worker.id in resque.workers.ids(), what="registration")
    [zygote] = children(worker.pid)
    os.kill(zygote, signal.SIGKILL)
    resque.enqueue("test", "Lineage", "next")
    after = lineage(events, "next")
    assert after["worker"] == worker.pid and after["zygote"] != zygote
    assert resque.failures.count() == 0
    wait_for(lambda: resque.stats.processed() == 1, what="the job to be counted")
