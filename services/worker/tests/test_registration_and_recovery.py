"""What Ruby tools see of a running worker, and recovery when a worker dies."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from worker_harness import Events, WorkerProcess, pid_alive, wait_for, wait_registered

from resque_proto import Resque
from resque_proto.text import text
from resque_proto.timefmt import parse_run_at, parse_started

Spawn = Callable[..., WorkerProcess]


def proctitle(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def test_a_busy_worker_looks_like_a_ruby_one(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(RESQUE_PROCLINE_PREFIX="app ")
    wait_registered(resque, worker)
    wait_for(lambda: "Waiting for test" in proctitle(worker.pid), what="the idle title")
    assert proctitle(worker.pid) == "app resque-0.1.0: Waiting for test"
    payload = resque.enqueue("test", "Sleep", "busy", 60)
    child = int(wait_for(lambda: events.of("start", tag="busy"))[0]["pid"])
    working = json.loads(resque.redis.get(resque.keys.worker(worker.id)) or b"{}")
    assert list(working) == ["queue", "run_at", "payload"]
    assert working["queue"] == "test" and working["payload"] == json.loads(payload)
    parse_run_at(working["run_at"])
    parse_started(text(resque.redis.get(resque.keys.worker_started(worker.id))) or "")
    assert resque.workers.get(worker.id).state == "busy"  # type: ignore[union-attr]
    forked = f"app resque-0.1.0: Forked {child} at "
    wait_for(lambda: proctitle(worker.pid).startswith(forked), what="the parent's title")
    assert proctitle(child).startswith("app resque-0.1.0: Processing test since ")
    assert proctitle(child).endswith(" [Sleep]")
    worker.signal(signal.SIGUSR1)
    wait_for(lambda: resque.redis.get(resque.keys.worker(worker.id)) is None, what="idle again")


def test_heartbeats_continue_while_a_job_runs(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    worker = spawn_worker(RESQUE_HEARTBEAT_INTERVAL="0.2")
    resque.enqueue("test", "Sleep", "long", 60)
    wait_for(lambda: events.of("start", tag="long"), what="the job to start")
    first = resque.redis.hget(resque.keys.our_heartbeats, worker.id)
    wait_for(
        lambda: resque.redis.hget(resque.keys.our_heartbeats, worker.id) != first,
        what="a heartbeat during the job",
    )


def test_a_worker_missing_from_the_workers_set_registers_again(
    spawn_worker: Spawn, resque: Resque
) -> None:
    worker = spawn_worker(RESQUE_HEARTBEAT_INTERVAL="0.2")
    wait_registered(resque, worker)
    resque.redis.srem(resque.keys.workers, worker.id)
    wait_registered(resque, worker)


def test_a_killed_workers_job_is_recovered_and_run_by_another(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    fast_pruning = {
        "RESQUE_HEARTBEAT_INTERVAL": "0.5",
        "RESQUE_PRUNE_AFTER": "2",
        "RESQUE_PRUNE_INTERVAL": "0.5",
    }
    doomed = spawn_worker(**fast_pruning)
    payload = resque.enqueue("test", "Sleep", "survivor", 1)
    child = int(wait_for(lambda: events.of("start", tag="survivor"))[0]["pid"])
    doomed.signal(signal.SIGKILL)
    doomed.wait()
    wait_for(lambda: not pid_alive(child), what="the orphaned child to die with its worker")
    rescuer = spawn_worker(**fast_pruning)
    wait_for(lambda: events.of("finish", tag="survivor"), what="the job to run again")
    runs = events.of("start", tag="survivor")
    assert len(runs) == 2 and runs[1]["pid"] != child
    assert doomed.id not in resque.workers.ids() and rescuer.id in resque.workers.ids()
    assert resque.jobs.in_flight(doomed.id) == []
    wait_for(lambda: resque.stats.processed() == 1, what="the job counted once")
    assert resque.failures.count() == 0
    assert resque.redis.hget(resque.keys.redeliveries, payload) is None  # finished: cleared


def test_a_job_that_keeps_killing_workers_becomes_a_failure(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    fast_pruning = {
        "RESQUE_HEARTBEAT_INTERVAL": "0.5",
        "RESQUE_PRUNE_AFTER": "2",
        "RESQUE_PRUNE_INTERVAL": "0.5",
        "RESQUE_MAX_REDELIVERIES": "1",
    }
    resque.enqueue("test", "KillWorker")
    first = spawn_worker(**fast_pruning)
    first.wait()
    second = spawn_worker(**fast_pruning)  # recovers the job (redelivery 1) and dies of it
    second.wait()
    assert len(events.of("start", tag="poison")) == 2
    third = spawn_worker(**fast_pruning)  # past the limit: a failure record, not a third run
    [failure] = wait_for(resque.failures.all, what="the poison job's failure record")
    assert failure.exception == "Resque::PruneDeadWorkerDirtyExit"
    assert failure.worker == second.id
    assert "KillWorker" in (failure.error or "")
    assert len(events.of("start", tag="poison")) == 2
    assert resque.queues.size("test") == 0 and third.process.poll() is None


def test_health_check_follows_the_health_file(
    spawn_worker: Spawn, resque: Resque, tmp_path: Path
) -> None:
    health = tmp_path / "health"
    env = {"RESQUE_HEALTH_FILE": str(health), "RESQUE_HEARTBEAT_INTERVAL": "1"}

    def check() -> int:
        command = [sys.executable, "-m", "resque_worker", "--health-check"]
        return subprocess.run(command, env={**worker.env, **env}, check=False).returncode

    worker = spawn_worker(**env)
    wait_for(health.exists, what="the health file")
    assert check() == 0
    worker.signal(signal.SIGSTOP)  # a hung worker stops touching the file
    try:
        wait_for(lambda: check() == 1, what="the health check to fail")
    finally:
        worker.signal(signal.SIGCONT)
    wait_for(lambda: check() == 0, what="the health check to pass again")


def test_bad_configuration_exits_with_one_line(worker_env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "resque_worker"]
    no_queues = {k: v for k, v in worker_env.items() if k not in {"QUEUES", "QUEUE"}}
    result = subprocess.run(command, env=no_queues, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "QUEUES" in result.stderr
    bad_jobs = {**worker_env, "RESQUE_JOBS": "no_such_module"}
    result = subprocess.run(command, env=bad_jobs, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no_such_module" in result.stderr
    bad_number = {**worker_env, "RESQUE_JOB_TIMEOUT": "soon"}
    result = subprocess.run(command, env=bad_number, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "RESQUE_JOB_TIMEOUT" in result.stderr


def test_help_documents_every_variable() -> None:
    command = [sys.executable, "-m", "resque_worker", "--help"]
    text = " ".join(subprocess.run(command, capture_output=True, text=True).stdout.split())
    for name in (
        "QUEUES/QUEUE", "RESQUE_JOBS", "INTERVAL", "FORK_PER_JOB", "TERM_CHILD",
        "RESQUE_TERM_TIMEOUT", "RESQUE_PRE_SHUTDOWN_TIMEOUT", "GRACEFUL_TERM",
        "RESQUE_PROCLINE_PREFIX", "RESQUE_JOB_TIMEOUT", "RESQUE_HEARTBEAT_INTERVAL",
        "RESQUE_PRUNE_AFTER", "RESQUE_PRUNE_INTERVAL", "RESQUE_MAX_REDELIVERIES",
        "RESQUE_LOG_FORMAT", "RESQUE_HEALTH_FILE", "REDIS_URL", "RESQUE_NAMESPACE",
        "--burst", "--health-check",
    ):  # fmt: skip
        assert name in text, name
