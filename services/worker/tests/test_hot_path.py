"""The per-job hot path: the job runs in a child the zygote forked before the job came
(two are alive at once: the one running a job and the spare for the next), and the ack
of one job and the reserve of the next share one Lua call."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from worker_harness import Events, WorkerProcess, wait_for

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def started(pid: int) -> tuple[int, int]:
    """When a process started (clock ticks since boot), then its pid for a tie."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]), pid


def spares_of(worker: WorkerProcess) -> list[int]:
    """The zygote's two children while the worker idles, oldest first: the spares
    waiting for a job, in the order the worker hands jobs to them."""
    [zygote] = wait_for(lambda: children(worker.pid), what="the zygote")
    spares: list[int] = wait_for(lambda: len(children(zygote)) == 2 and children(zygote),
                                 what="two spare children")  # fmt: skip
    return sorted(spares, key=started)


def ran_in(events: Events, tag: str) -> int:
    [entry] = wait_for(lambda: events.of("ran", tag=tag), what=f"job {tag} to run")
    pid: int = entry["pid"]
    return pid


def test_a_job_runs_in_the_spare_forked_before_it_came_and_a_new_spare_follows(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    wait_for(lambda: worker.id in resque.workers.ids(), what="registration")
    first, second = spares_of(worker)
    resque.enqueue("test", "Record", "one")
    assert ran_in(events, "one") == first
    wait_for(lambda: resque.stats.processed() == 1, what="the job to be counted")
    still_waiting, new = spares_of(worker)
    assert still_waiting == second and new not in (first, second)
    resque.enqueue("test", "Record", "two")
    assert ran_in(events, "two") == second
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    assert resque.failures.count() == 0


def test_a_spare_killed_while_waiting_is_replaced_and_the_job_is_not_failed(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker()
    wait_for(lambda: worker.id in resque.workers.ids(), what="registration")
    spare, _ = spares_of(worker)  # the next job's
    os.kill(spare, signal.SIGKILL)
    resque.enqueue("test", "Record", "after")
    assert ran_in(events, "after") != spare
    wait_for(lambda: resque.stats.processed() == 1, what="the job to be counted")
    assert resque.failures.count() == 0
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0


def test_one_script_call_per_job_acks_it_and_reserves_the_next(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    jobs = 30
    for n in range(jobs):
        resque.enqueue("test", "Record", n)
    resque.redis.config_resetstat()
    worker = spawn_worker(INTERVAL="0")  # burst: stops when the queue is empty
    assert worker.wait() == 0
    assert resque.stats.processed() == jobs and resque.failures.count() == 0
    assert len(events.of("ran")) == jobs
    calls = resque.redis.info("commandstats")["cmdstat_evalsha"]["calls"]
    assert calls <= jobs + 3  # one per job, plus the first reserve and the last ack
    assert resque.redis.keys("*inflight*") == [] and resque.workers.ids() == []


def test_a_child_killed_before_reading_its_job_is_a_dirty_exit_and_the_zygote_lives(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    """Its socket is reset (the job unread): the zygote reports the kill, not a crash."""
    worker = spawn_worker()
    wait_for(lambda: worker.id in resque.workers.ids(), what="registration")
    [zygote] = children(worker.pid)
    spare, _ = spares_of(worker)  # the next job's
    os.kill(spare, signal.SIGSTOP)
    resque.enqueue("test", "Record", "unread")
    title = Path(f"/proc/{worker.pid}/cmdline")
    wait_for(lambda: f"Forked {spare}".encode() in title.read_bytes(), what="the hand-over")
    os.kill(spare, signal.SIGKILL)
    [failure] = wait_for(resque.failures.all, what="a failure record")
    assert failure.exception == "Resque::DirtyExit"
    killed = f"Child process received unhandled signal pid {spare} SIGKILL (signal 9)"
    assert failure.error == killed
    assert children(worker.pid) == [zygote] and not events.of("ran")
    resque.enqueue("test", "Record", "next")
    ran_in(events, "next")
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0


def test_a_process_the_job_forks_cannot_report_for_it(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    """The job's fork inherits the job's socket to the worker; leaving through the job's
    code, it must not write an outcome there, or the job would end before it has."""
    worker = spawn_worker()
    wait_for(lambda: worker.id in resque.workers.ids(), what="registration")
    resque.enqueue("test", "ForkThenFinish", "forked", 0.5)
    wait_for(lambda: events.of("finish", tag="forked"), what="the job to finish")
    wait_for(lambda: resque.stats.processed() == 1, what="the job to be counted")
    assert resque.failures.count() == 0
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
