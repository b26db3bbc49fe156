"""Queue priority and wildcards, burst mode, pause-all-workers, hooks, in-process mode."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

from worker_harness import Events, WorkerProcess, wait_for, wait_registered

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def ran_tags(events: Events) -> list[Any]:
    return [e["tag"] for e in events.of("ran")]


def test_burst_worker_takes_queues_in_priority_order_then_exits(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    for n in range(3):
        resque.enqueue("low", "Record", f"low-{n}")
    for n in range(3):
        resque.enqueue("high", "Record", f"high-{n}")
    worker = spawn_worker(QUEUES="high,low", INTERVAL="0")
    assert worker.wait() == 0
    assert ran_tags(events) == ["high-0", "high-1", "high-2", "low-0", "low-1", "low-2"]
    assert resque.workers.ids() == []


def test_priority_is_rechecked_after_every_job(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("low", "Sleep", "low-first", 1)
    resque.enqueue("low", "Record", "low-second")
    worker = spawn_worker("--burst", QUEUES="high,low")
    wait_for(lambda: events.of("start", tag="low-first"), what="the first low job")
    resque.enqueue("high", "Record", "high-late")
    assert worker.wait() == 0
    assert ran_tags(events) == ["high-late", "low-second"]


def test_wildcards_and_negations_follow_resque(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    for queue in ("beta", "alpha", "skipped", "high_1"):
        resque.enqueue(queue, "Record", queue)
    worker = spawn_worker(QUEUES="high*,*,!skip*", INTERVAL="0")
    assert worker.wait() == 0
    assert ran_tags(events) == ["high_1", "alpha", "beta"]
    assert resque.queues.size("skipped") == 1


def test_a_wildcard_worker_sees_queues_created_after_it_started(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(QUEUES="*")
    wait_registered(resque, worker)
    resque.enqueue("brand_new", "Record", "new-queue")
    wait_for(lambda: events.of("ran", tag="new-queue"), what="the job on a new queue")


def test_pause_all_workers_key_holds_jobs_until_removed(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.stats.pause_all()
    worker = spawn_worker()
    wait_for(lambda: worker.logged("paused"), what="the worker to see the pause key")
    resque.enqueue("test", "Record", "held")
    time.sleep(1.0)  # a window in which an unpaused worker would surely take the job
    assert resque.queues.size("test") == 1
    resque.stats.resume_all()
    wait_for(lambda: events.of("ran", tag="held"), what="the job after resume")


def test_job_hooks_run_in_resque_order(spawn_worker: Spawn, resque: Resque, events: Events) -> None:
    resque.enqueue("test", "Hooked", "ok")
    assert spawn_worker(INTERVAL="0").wait() == 0
    assert [e["name"] for e in events.of("hook")] == [
        "before_perform_a",
        "before_perform_b",
        "around_perform_a:before",
        "around_perform_b:before",
        "perform",
        "around_perform_b:after",
        "around_perform_a:after",
        "after_perform_a",
    ]


def test_dont_perform_skips_the_job_without_a_failure(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Hooked", "skip")
    assert spawn_worker(INTERVAL="0").wait() == 0
    names = [e["name"] for e in events.of("hook")]
    assert names == ["before_perform_a", "before_perform_b"]
    assert resque.failures.count() == 0 and resque.stats.processed() == 1


def test_on_failure_hooks_see_the_exception(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Hooked", "fail")
    assert spawn_worker(INTERVAL="0").wait() == 0
    [failed] = events.of("hook", name="on_failure_a")
    assert failed["error"] == "hooked job failed"
    assert "after_perform_a" not in [e["name"] for e in events.of("hook")]
    assert resque.failures.all()[0].exception == "ValueError"


def test_on_failure_hooks_run_in_the_parent_for_a_dirty_exit(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Hooked", "die")
    worker = spawn_worker(INTERVAL="0")
    assert worker.wait() == 0
    [failed] = events.of("hook", name="on_failure_a")
    assert failed["error_class"] == "DirtyExit" and failed["pid"] == worker.pid
    assert "SIGKILL (signal 9)" in failed["error"]
    assert resque.failures.all()[0].exception == "Resque::DirtyExit"


def test_worker_hooks_run_in_the_right_processes(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Record", "one")
    resque.enqueue("test", "Record", "two")
    worker = spawn_worker(INTERVAL="0")
    assert worker.wait() == 0
    hooks = events.of("worker_hook")
    assert [h["name"] for h in hooks] == [
        "before_first_fork",
        "before_fork",
        "after_fork",
        "before_fork",
        "after_fork",
    ]
    assert {h["pid"] for h in hooks if h["name"] != "after_fork"} == {worker.pid}
    children = {e["pid"] for e in events.of("ran")}
    assert {h["pid"] for h in hooks if h["name"] == "after_fork"} == children
    assert worker.pid not in children and len(children) == 2


def test_in_process_mode_runs_jobs_in_the_worker(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    for n in range(5):
        resque.enqueue("test", "Record", n)
    resque.enqueue("test", "FailingArchive", 7)
    worker = spawn_worker(INTERVAL="0", FORK_PER_JOB="false")
    assert worker.wait() == 0
    assert ran_tags(events) == [0, 1, 2, 3, 4]
    assert {e["pid"] for e in events.of("ran")} == {worker.pid}
    assert resque.stats.processed() == 6 and resque.failures.count() == 1


def test_in_process_term_child_interrupts_the_job_and_requeues_it(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(FORK_PER_JOB="false", TERM_CHILD="1")
    payload = resque.enqueue("test", "Sleep", "inproc", 60)
    wait_for(lambda: events.of("start", tag="inproc"), what="the job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not events.of("finish", tag="inproc")
    assert resque.redis.lrange(resque.keys.queue("test"), 0, -1) == [payload.encode()]
    assert resque.failures.count() == 0 and resque.workers.ids() == []
