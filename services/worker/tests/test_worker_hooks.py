"""Resque's worker lifecycle hooks and RUN_AT_EXIT_HOOKS, through real forked workers.

The hooks live in worker_test_hooks (and worker_test_hooks_second, for module
order); each appends a ``lifecycle`` event with the pid of the process it ran in.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from worker_harness import Events, WorkerProcess, wait_for, wait_registered

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]
HOOK_MODULES = "worker_test_jobs,worker_test_hooks,worker_test_hooks_second"


def lifecycle(events: Events) -> list[tuple[str, str]]:
    return [(e["name"], e["module"]) for e in events.of("lifecycle")]


def names(events: Events) -> list[str]:
    return [e["name"] for e in events.of("lifecycle")]


def hooked_worker(spawn_worker: Spawn, *args: str, **env: str) -> WorkerProcess:
    return spawn_worker(*args, RESQUE_JOBS=HOOK_MODULES, **env)


@pytest.mark.parametrize("fork_per_job", ["true", "false"])
def test_a_burst_ends_with_queue_empty_then_worker_exit_in_module_order(
    spawn_worker: Spawn, resque: Resque, events: Events, fork_per_job: str
) -> None:
    resque.enqueue("test", "Record", "one")
    resque.enqueue("test", "Record", "two")
    worker = hooked_worker(spawn_worker, INTERVAL="0", FORK_PER_JOB=fork_per_job)
    assert worker.wait() == 0
    assert lifecycle(events) == [
        ("queue_empty", "first"),
        ("queue_empty", "second"),
        ("worker_exit", "first"),
        ("worker_exit", "second"),
    ]  # no shutdown hook: no signal asked the worker to stop
    assert {e["pid"] for e in events.of("lifecycle")} == {worker.pid}


def test_queue_empty_runs_once_each_time_the_worker_runs_out_of_jobs(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = hooked_worker(spawn_worker)
    wait_registered(resque, worker)
    resque.enqueue("test", "Record", "first-batch")
    wait_for(lambda: len(events.of("lifecycle", name="queue_empty")) == 2, what="queue_empty")
    resque.enqueue_many([("test", "Record", ["second-1"]), ("test", "Record", ["second-2"])])
    wait_for(lambda: len(events.of("lifecycle", name="queue_empty")) == 4, what="queue_empty")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    # Idle turns of the loop in between ran no more of them.
    assert names(events) == ["queue_empty"] * 4 + ["shutdown", "worker_exit", "worker_exit"]


def test_pause_hooks_get_the_worker_on_usr2_and_cont_only(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = hooked_worker(spawn_worker)
    wait_registered(resque, worker)
    worker.signal(signal.SIGUSR2)
    wait_for(lambda: events.of("lifecycle", name="before_pause"), what="before_pause")
    worker.signal(signal.SIGCONT)
    wait_for(lambda: events.of("lifecycle", name="after_pause"), what="after_pause")
    # pause-all-workers pauses without the hooks, as in Resque (its paused? runs none).
    resque.stats.pause_all()
    wait_for(lambda: count_logged(worker, "paused") == 2, what="the pause-all-workers pause")
    resque.stats.resume_all()
    wait_for(lambda: count_logged(worker, "resumed") == 2, what="the resume")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    assert names(events) == ["before_pause", "after_pause", "shutdown", "worker_exit",
                             "worker_exit"]  # fmt: skip
    pause_hooks = events.of("lifecycle", name="before_pause") + events.of(
        "lifecycle", name="after_pause"
    )
    assert all(e["worker"] == worker.id and e["pid"] == worker.pid for e in pause_hooks)


def count_logged(worker: WorkerProcess, message: str) -> int:
    return sum(1 for entry in worker.logs() if entry.get("msg") == message)


def test_signal_hooks_run_while_a_job_runs(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    payload = resque.enqueue("test", "Sleep", "long", 60)
    worker = hooked_worker(spawn_worker)
    wait_for(lambda: events.of("start", tag="long"), what="the job to start")
    worker.signal(signal.SIGUSR2)
    wait_for(lambda: events.of("lifecycle", name="before_pause"), what="before_pause")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert names(events) == ["before_pause", "shutdown", "worker_exit", "worker_exit"]
    assert {e["pid"] for e in events.of("lifecycle")} == {worker.pid}
    assert not events.of("finish", tag="long")  # both ran before the job ended
    assert resque.redis.lrange(resque.keys.queue("test"), 0, -1) == [payload.encode()]


def test_a_raising_hook_is_logged_and_the_worker_carries_on(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "Record", "before")
    worker = hooked_worker(spawn_worker, WORKER_TEST_FAILING_HOOK="queue_empty")
    wait_for(lambda: worker.logged("a queue_empty hook raised"), what="the hook's error logged")
    resque.enqueue("test", "Record", "after")
    wait_for(lambda: events.of("ran", tag="after"), what="the next job")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    # The failing hook stops that hook's run (the second module's is skipped), as in Ruby.
    assert lifecycle(events).count(("queue_empty", "second")) == 0
    [logged, *_] = [e for e in worker.logs() if e.get("msg") == "a queue_empty hook raised"]
    assert logged["hook"] == "queue_empty" and "failed on purpose" in logged["exc"]


@pytest.mark.parametrize("setting", ["true", "false"])
def test_run_at_exit_hooks_runs_atexit_handlers_in_the_child(
    spawn_worker: Spawn, resque: Resque, events: Events, setting: str
) -> None:
    resque.enqueue("test", "RegisterAtExit", "child")
    worker = spawn_worker(INTERVAL="0", RUN_AT_EXIT_HOOKS=setting)
    assert worker.wait() == 0
    [ran] = events.of("ran", tag="child")
    assert ran["pid"] != worker.pid
    handled = [e["pid"] for e in events.of("at_exit")]
    assert handled == ([ran["pid"]] if setting == "true" else [])
    assert resque.stats.processed() == 1 and resque.failures.count() == 0


def test_in_process_atexit_handlers_run_when_the_worker_exits(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    resque.enqueue("test", "RegisterAtExit", "in-process")
    worker = spawn_worker(INTERVAL="0", FORK_PER_JOB="false")
    assert worker.wait() == 0
    assert [e["pid"] for e in events.of("at_exit")] == [worker.pid]
