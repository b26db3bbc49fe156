"""Each signal's outcome for the job in hand, with real processes and real signals."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from worker_harness import Events, WorkerProcess, pid_alive, wait_for, wait_registered

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def started_child(events: Events, tag: str) -> int:
    found = wait_for(lambda: events.of("start", tag=tag), what=f"job {tag} to start")
    return int(found[0]["pid"])


def test_quit_lets_the_job_finish_then_exits_and_unregisters(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    resque.enqueue("test", "Sleep", "q", 1.5)
    started_child(events, "q")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    assert events.of("finish", tag="q")
    assert resque.workers.ids() == []
    assert resque.stats.processed() == 1
    assert resque.failures.count() == 0
    assert resque.queues.size("test") == 0


def test_term_stops_the_child_and_puts_the_job_back_at_the_front(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    interrupted = resque.enqueue("test", "Sleep", "t", 60)
    child = started_child(events, "t")
    waiting = resque.enqueue("test", "Record", "next")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not pid_alive(child)
    assert resque.redis.lrange(resque.keys.queue("test"), 0, -1) == [
        interrupted.encode(),
        waiting.encode(),
    ]
    assert resque.failures.count() == 0
    assert resque.workers.ids() == []
    assert resque.jobs.in_flight(worker.id) == []


def test_int_with_term_child_raises_term_exception_in_the_job_and_requeues(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(TERM_CHILD="1", RESQUE_TERM_TIMEOUT="30")
    payload = resque.enqueue("test", "Sleep", "tc", 60)
    child = started_child(events, "tc")
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0
    assert not pid_alive(child)
    assert resque.redis.lrange(resque.keys.queue("test"), 0, -1) == [payload.encode()]
    assert resque.failures.count() == 0


def test_term_child_escalates_to_kill_after_the_term_timeout(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(TERM_CHILD="1", RESQUE_TERM_TIMEOUT="1")
    payload = resque.enqueue("test", "StubbornSleep", "stubborn", 60)
    child = started_child(events, "stubborn")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert events.of("term", tag="stubborn"), "the job saw TermException first"
    assert not pid_alive(child)
    assert resque.redis.lrange(resque.keys.queue("test"), 0, -1) == [payload.encode()]


def test_graceful_term_finishes_the_job_like_quit(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(GRACEFUL_TERM="1")
    resque.enqueue("test", "Sleep", "g", 1)
    started_child(events, "g")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert events.of("finish", tag="g")
    assert resque.stats.processed() == 1


def test_usr1_kills_the_child_records_a_dirty_exit_and_keeps_working(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    resque.enqueue("test", "Sleep", "u", 60)
    child = started_child(events, "u")
    resque.enqueue("test", "Record", "after")
    worker.signal(signal.SIGUSR1)
    wait_for(lambda: events.of("ran", tag="after"), what="the next job")
    [failure] = resque.failures.all()
    assert failure.exception == "Resque::DirtyExit"
    assert failure.error == (
        f"Child process received unhandled signal pid {child} SIGKILL (signal 9)"
    )
    assert failure.worker == worker.id and failure.queue == "test"
    assert failure.payload["args"] == ["u", 60]
    assert worker.process.poll() is None
    assert resque.stats.failed() == 1


def test_usr1_with_term_child_records_resque_term_exception(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(TERM_CHILD="1")
    resque.enqueue("test", "Sleep", "ut", 60)
    started_child(events, "ut")
    worker.signal(signal.SIGUSR1)
    [failure] = wait_for(lambda: resque.failures.all(), what="a failure record")
    assert failure.exception == "Resque::TermException"
    assert failure.error == "SIGTERM"
    assert failure.backtrace, "the child's backtrace is kept"


def test_usr2_pauses_and_cont_resumes(spawn_worker: Spawn, resque: Resque, events: Events) -> None:
    worker = spawn_worker()
    wait_registered(resque, worker)
    worker.signal(signal.SIGUSR2)
    wait_for(lambda: worker.logged("paused"), what="the worker to pause")
    resque.enqueue("test", "Record", "while-paused")
    time.sleep(1.0)  # a window in which an unpaused worker would surely take the job
    assert resque.queues.size("test") == 1
    worker.signal(signal.SIGCONT)
    wait_for(lambda: events.of("ran", tag="while-paused"), what="the job after CONT")
    assert worker.logged("resumed")


def test_a_shutdown_signal_while_idle_exits_promptly(spawn_worker: Spawn, resque: Resque) -> None:
    worker = spawn_worker()
    wait_registered(resque, worker)
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=10) == 0
    assert resque.workers.ids() == []


def test_a_job_finishing_within_the_pre_shutdown_timeout_counts_as_done(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(TERM_CHILD="1", RESQUE_PRE_SHUTDOWN_TIMEOUT="30")
    resque.enqueue("test", "Sleep", "grace", 1)
    started_child(events, "grace")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert events.of("finish", tag="grace")
    assert resque.stats.processed() == 1 and resque.queues.size("test") == 0
