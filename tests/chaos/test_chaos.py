"""Chaos: 4 fork-per-job workers, 2,000 jobs, SIGKILLs every 0.5-2 s, two Redis restarts.

At random, a worker process (its fork server and running child die with it) or a running
job's child is SIGKILLed; a killed worker is replaced, as an orchestrator would. Redis
(AOF on, ``appendfsync everysec``) is restarted twice. Then every job is accounted for:

- none lost: each job has a "done" line or a failure record, and nothing is left queued
  or in flight;
- at least once: each job started, except one whose child was killed before the job's
  first line (a ``DirtyExit`` failure record, as Resque writes it);
- duplicates only where a worker died mid-job: every run of a job but its last belongs
  to a worker that was SIGKILLed (recovered from its in-flight list by the pruner);
- failure records only for killed children.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_runner.polling import wait_for
from redis_runner.server import RedisServer
from resque_proto import Resque, connect
from resque_proto.workers import parse_worker_id

HERE = Path(__file__).parent
JOBS = 2000
WORKERS = 4
QUEUE = "chaos"
DIRTY_EXIT = "Resque::DirtyExit"
CHILD_KILLED = re.compile(r"unhandled signal pid (\d+) SIGKILL")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass
class Kills:
    """What the chaos loop killed: worker pids and job-child pids, with when."""

    workers: dict[int, float] = field(default_factory=dict)
    children: dict[int, float] = field(default_factory=dict)
    redis_restarts: int = 0


class Fleet:
    """``WORKERS`` resque-worker processes; a killed one is replaced."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        with open(self.logs / f"worker-{self.started}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "resque_worker"], env=self.env, stderr=log
            )
        self.processes.append(process)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def stop(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGQUIT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def job_child(worker_pid: int) -> int | None:
    """The running job's process: the child of the worker's fork server whose title says
    it is processing (its other child may be the spare waiting for the next job)."""
    for zygote in children_of(worker_pid):
        for child in children_of(zygote):
            if "Processing" in process_title(child):
                return child
    return None


def process_title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().decode(errors="replace")
    except OSError:
        return ""


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # impossible for one O_APPEND write; tolerated, then counted below
    return events


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(data_dir=tmp_path / "redis", persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_no_job_lost_under_kills_and_redis_restarts(
    chaos_redis: RedisServer, tmp_path: Path
) -> None:
    events_path = tmp_path / "events.jsonl"
    client = connect(chaos_redis.url)
    resque = Resque(client)
    for number in range(JOBS):
        resque.enqueue_to(QUEUE, "ChaosJob", number)
    env = {
        **os.environ,
        "REDIS_URL": chaos_redis.url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "RESQUE_JOBS": "chaos_jobs",
        "CHAOS_EVENTS": str(events_path),
        "QUEUES": QUEUE,
        "RESQUE_LOG_FORMAT": "json",
        "RESQUE_HEARTBEAT_INTERVAL": "0.5",
        "RESQUE_PRUNE_AFTER": "3",
        "RESQUE_PRUNE_INTERVAL": "0.5",
        "RESQUE_MAX_REDELIVERIES": "1000",  # a job may be caught in several kills
    }
    fleet = Fleet(env, tmp_path)
    for _ in range(WORKERS):
        fleet.spawn()
    kills = Kills()
    rng = random.Random(os.environ.get("CHAOS_SEED") or None)
    try:
        run_chaos(fleet, chaos_redis, resque, kills, rng)
        wait_for(lambda: settled(resque, fleet), timeout=120, what="every job settled")
    finally:
        fleet.stop()
    assert_accounted(read_events(events_path), resque, kills)


def settled(resque: Resque, fleet: Fleet) -> bool:
    """Queue empty, nothing in flight, and only live workers registered (the killed
    ones pruned, their jobs recovered)."""
    live = {process.pid for process in fleet.alive()}
    ids = resque.workers.ids()
    registered = {parse_worker_id(worker_id)[1] for worker_id in ids}
    return (
        queue_length(resque) == 0
        and registered <= live
        and not any(resque.jobs.in_flight(worker_id) for worker_id in ids)
    )


def assert_accounted(events: list[dict[str, Any]], resque: Resque, kills: Kills) -> None:
    starts: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    done: Counter[int] = Counter()
    for event in events:
        if event["event"] == "start":
            starts[event["n"]].append(event)
        else:
            done[event["n"]] += 1
    failures = [f for f in resque.failures.all() if f.queue == QUEUE]
    failed = Counter(f.payload["args"][0] for f in failures)
    lost = [n for n in range(JOBS) if not done[n] and not failed[n]]
    assert lost == [], f"{len(lost)} jobs lost: {lost[:20]}"
    for record in failures:
        child = killed_child_of(record.error or "")
        assert record.exception == DIRTY_EXIT and child in kills.children, record.raw
    never_started = [n for n in range(JOBS) if not starts[n]]
    assert set(never_started) <= set(failed), "a job neither ran nor failed"
    duplicated = {n: runs for n, runs in starts.items() if len(runs) > 1}
    for n, runs in duplicated.items():
        for run in sorted(runs, key=lambda r: r["t"])[:-1]:
            # up[1] == 1: the zygote was already orphaned (its worker killed) when the job,
            # handed over by that worker just before, started in the spare
            orphaned = run["up"][1:2] == [1]
            killed = set(run["up"]) & set(kills.workers) or run["pid"] in kills.children
            assert killed or orphaned, (
                f"job {n} ran again though the worker of run {run} was not killed"
            )
    extra_done = {n for n, count in done.items() if count > 1}
    assert extra_done <= set(duplicated)
    assert kills.redis_restarts == 2 and kills.workers and kills.children
    print(
        f"\nchaos: {JOBS} jobs, {len(kills.workers)} workers and {len(kills.children)} children "
        f"SIGKILLed, {kills.redis_restarts} Redis restarts; {len(duplicated)} jobs ran more than "
        f"once ({sum(len(r) - 1 for r in duplicated.values())} extra runs), "
        f"{len(failures)} failure records (killed children), {len(never_started)} killed "
        "before their first line"
    )


def killed_child_of(error: str) -> int | None:
    """The child pid of a "Child process received unhandled signal pid N SIGKILL" record."""
    match = CHILD_KILLED.search(error)
    return int(match.group(1)) if match else None


def run_chaos(
    fleet: Fleet, server: RedisServer, resque: Resque, kills: Kills, rng: random.Random
) -> None:
    """Kill until the queue is drained; restart Redis twice on the way."""
    restart_at = {JOBS * 2 // 3, JOBS // 3}  # remaining-job marks
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 2.0))
        remaining = queue_length(resque)
        if remaining == 0:
            return
        if restart_at and remaining <= max(restart_at):
            restart_at.discard(max(restart_at))
            server.restart(downtime=rng.uniform(0.2, 1.0))
            kills.redis_restarts += 1
            continue
        kill_one(fleet, kills, rng)
    pytest.fail(f"the queue did not drain within 300 s: {queue_length(resque)} left")


def queue_length(resque: Resque) -> int:
    try:
        return int(resque.redis.llen(resque.keys.queue(QUEUE)))
    except redis.RedisError:
        return -1  # Redis restarting: not drained


def kill_one(fleet: Fleet, kills: Kills, rng: random.Random) -> None:
    workers = fleet.alive()
    if not workers:
        fleet.spawn()
        return
    worker = rng.choice(workers)
    child = job_child(worker.pid)
    if child is not None and rng.random() < 0.5:
        kill(child)
        kills.children[child] = time.time()
        return
    kill(worker.pid)
    kills.workers[worker.pid] = time.time()
    worker.wait(10)
    fleet.spawn()


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
