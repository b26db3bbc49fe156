"""COUNT=N: N worker processes under one supervisor, with real processes and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from worker_harness import Events, WorkerProcess, pid_alive, wait_for
from worker_test_jobs import parent_of

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def worker_pids(resque: Resque) -> set[int]:
    return {int(worker_id.split(":")[1]) for worker_id in resque.workers.ids()}


def wait_pool(resque: Resque, pool: WorkerProcess, count: int) -> set[int]:
    """The pids of ``count`` registered workers, all children of ``pool``."""

    def ready() -> set[int] | None:
        pids = {pid for pid in worker_pids(resque) if pid_alive(pid)}
        return pids if len(pids) == count else None

    pids: set[int] = wait_for(ready, what=f"{count} workers registered")
    assert {parent_of(pid) for pid in pids} == {pool.pid}
    return pids


def started(events: Events, count: int) -> list[int]:
    found = wait_for(lambda: len(events.of("start")) >= count and events.of("start"),
                     what=f"{count} jobs started")  # fmt: skip
    return [int(event["pid"]) for event in found]


def test_count_runs_n_registered_workers_and_quit_drains_them_all(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    pool = spawn_worker(COUNT="3")
    pids = wait_pool(resque, pool, 3)
    assert pool.pid not in worker_pids(resque), "the supervisor is not a worker"
    for tag in ("a", "b", "c"):
        resque.enqueue("test", "Sleep", tag, 1.5)
    started(events, 3)
    pool.signal(signal.SIGQUIT)
    assert pool.wait() == 0
    assert {event["tag"] for event in events.of("finish")} == {"a", "b", "c"}
    assert resque.workers.ids() == []
    assert resque.stats.processed() == 3 and resque.failures.count() == 0
    assert not any(pid_alive(pid) for pid in pids)


def test_term_is_forwarded_and_running_jobs_go_back_on_the_queue(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    pool = spawn_worker("--concurrency", "2")
    wait_pool(resque, pool, 2)
    payloads = {resque.enqueue("test", "Sleep", tag, 60) for tag in ("x", "y")}
    children = started(events, 2)
    pool.signal(signal.SIGTERM)
    assert pool.wait() == 0
    assert not any(pid_alive(pid) for pid in children)
    queued = resque.redis.lrange(resque.keys.queue("test"), 0, -1)
    assert set(queued) == {payload.encode() for payload in payloads}
    assert resque.workers.ids() == [] and resque.failures.count() == 0


def test_a_killed_worker_is_replaced(spawn_worker: Spawn, resque: Resque, events: Events) -> None:
    pool = spawn_worker(COUNT="2")
    first = wait_pool(resque, pool, 2)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(lambda: (live := {p for p in worker_pids(resque) if pid_alive(p)})
                        and len(live) == 2 and victim not in live and live,
                        what="a replacement worker")  # fmt: skip
    assert {parent_of(pid) for pid in replaced} == {pool.pid}
    assert pool.logged("worker exited unexpectedly; restarting it")
    resque.enqueue("test", "Record", "after")
    wait_for(lambda: events.of("ran", tag="after"), what="the pool to keep working")
    pool.signal(signal.SIGQUIT)
    assert pool.wait() == 0


def test_burst_workers_drain_the_queue_and_the_pool_exits_0(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    for n in range(6):
        resque.enqueue("test", "Record", n)
    pool = spawn_worker(COUNT="2", INTERVAL="0")
    assert pool.wait() == 0
    assert sorted(event["tag"] for event in events.of("ran")) == list(range(6))
    assert resque.workers.ids() == []


def test_workers_that_refuse_to_start_are_not_restarted_and_the_pool_exits_2(
    spawn_worker: Spawn,
) -> None:
    pool = spawn_worker(COUNT="2", RESQUE_JOBS="no_such_module_here")
    assert pool.wait() == 2
    assert not pool.logged("worker exited unexpectedly; restarting it")


def test_pidfile_and_health_check_cover_the_pool(
    spawn_worker: Spawn, resque: Resque, worker_env: dict[str, str], tmp_path: Path
) -> None:
    pidfile, health = tmp_path / "pool.pid", tmp_path / "health"
    pool = spawn_worker(COUNT="2", PIDFILE=str(pidfile), RESQUE_HEALTH_FILE=str(health))
    wait_pool(resque, pool, 2)
    assert pidfile.read_text() == str(pool.pid)
    files = [Path(f"{health}.1"), Path(f"{health}.2")]
    wait_for(lambda: all(f.exists() for f in files), what="each worker's health file")

    def check(count: int) -> int:
        env = {**worker_env, "COUNT": str(count), "RESQUE_HEALTH_FILE": str(health)}
        return subprocess.run([sys.executable, "-m", "resque_worker", "--health-check"],
                              env=env, timeout=60).returncode  # fmt: skip

    assert check(2) == 0
    assert check(3) == 1, "a worker without a fresh file makes the pool unhealthy"
    pool.signal(signal.SIGQUIT)
    assert pool.wait() == 0
    assert not pidfile.exists()


def test_workers_stop_when_the_supervisor_is_killed(spawn_worker: Spawn, resque: Resque) -> None:
    pool = spawn_worker(COUNT="2")
    pids = wait_pool(resque, pool, 2)
    pool.signal(signal.SIGKILL)
    pool.wait()
    wait_for(lambda: not any(pid_alive(pid) for pid in pids), what="the workers to stop")
    assert resque.workers.ids() == []  # TERM: they unregistered
