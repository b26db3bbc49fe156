"""Retries through the delayed queue, job status by id, and per-queue pause,
with real worker and scheduler processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from worker_harness import Events, WorkerProcess, wait_for

from resque_proto import Resque
from resque_proto.status import read_status


@pytest.fixture
def scheduler(redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real resque-scheduler: retries are delayed jobs, moved by it."""
    env = {**os.environ, "REDIS_URL": redis_url, "RESQUE_LOG_FORMAT": "text"}
    process = subprocess.Popen(
        [sys.executable, "-m", "resque_scheduler"], env=env, stderr=subprocess.DEVNULL
    )
    yield process
    process.kill()
    process.wait(10)


def status(resque: Resque, job_id: str) -> dict[str, Any]:
    return read_status(resque.redis, resque.keys, job_id) or {}


def job_id(payload: str) -> str:
    return str(json.loads(payload)["id"])


def failures(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange("resque:failed", 0, -1)]


@pytest.mark.usefixtures("scheduler")
def test_a_job_failing_twice_runs_three_times_and_leaves_no_failure_record(
    resque: Resque, spawn_worker: Callable[..., WorkerProcess], events: Events
) -> None:
    spawn_worker()
    payload = resque.enqueue("test", "Flaky", "twice", 2)
    wait_for(lambda: status(resque, job_id(payload)).get("state") == "succeeded", timeout=20)
    assert len(events.of("ran", tag="twice")) == 3
    assert failures(resque.redis) == []
    assert status(resque, job_id(payload))["attempt"] == 3
    assert resque.redis.hget("resque:pyresque:retries", "test") == b"2"
    assert (resque.stats.processed(), resque.stats.failed()) == (3, 2)


@pytest.mark.usefixtures("scheduler")
def test_a_fatal_exception_fails_at_once(
    resque: Resque, spawn_worker: Callable[..., WorkerProcess], events: Events
) -> None:
    spawn_worker()
    payload = resque.enqueue("test", "Fatal", "now")
    wait_for(lambda: failures(resque.redis), timeout=20, what="the failure record")
    time.sleep(1.5)  # a retry, had there been one, would have run by now
    assert len(events.of("ran", tag="now")) == 1
    [record] = failures(resque.redis)
    assert (record["exception"], record["attempts"]) == ("KeyError", 1)
    done = status(resque, job_id(payload))
    assert done["state"] == "failed"
    assert done["failure"]["exception"] == "KeyError"


@pytest.mark.usefixtures("scheduler")
def test_backoff_delays_are_kept_and_the_last_failure_says_how_many_attempts_ran(
    resque: Resque, spawn_worker: Callable[..., WorkerProcess], events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "BackingOff", "slow")
    wait_for(lambda: failures(resque.redis), timeout=30, what="the final failure")
    runs = [e["at"] for e in events.of("ran", tag="slow")]
    assert len(runs) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    # Due at the next whole second after the delay: up to 1 s late, never early.
    assert 1.0 <= gaps[0] < 2.5
    assert 2.0 <= gaps[1] < 3.5
    [record] = failures(resque.redis)
    assert record["attempts"] == 3
    assert record["payload"]["attempt"] == 3


def test_status_goes_queued_running_succeeded(
    resque: Resque, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    payload = resque.enqueue("test", "Sleep", "s", 1.0)
    queued = status(resque, job_id(payload))
    assert (queued["state"], queued["queue"], queued["class"]) == ("queued", "test", "Sleep")
    worker = spawn_worker()
    running = wait_for(lambda: status(resque, job_id(payload)).get("state") == "running"
                       and status(resque, job_id(payload)))  # fmt: skip
    assert running["worker"] == worker.id
    assert running["started_at"] <= time.time()
    done = wait_for(lambda: status(resque, job_id(payload)).get("state") == "succeeded"
                    and status(resque, job_id(payload)))  # fmt: skip
    assert 1.0 <= done["duration"] < 10
    assert 0 < resque.redis.ttl(f"resque:pyresque:status:{job_id(payload)}") <= 86_400


def test_a_paused_queue_is_skipped_by_running_workers_until_resumed(
    resque: Resque, spawn_worker: Callable[..., WorkerProcess], events: Events
) -> None:
    spawn_worker(QUEUES="test,other")
    resque.enqueue("other", "Record", "warm-up")
    wait_for(lambda: events.of("ran", tag="warm-up"), what="the worker to run")
    resque.queues.pause("test")
    assert resque.redis.get("resque:pause:queue:test") == b"true"
    resque.enqueue("test", "Record", "held")
    resque.enqueue("other", "Record", "still served")
    wait_for(lambda: events.of("ran", tag="still served"), what="the other queue")
    time.sleep(1.0)
    assert events.of("ran", tag="held") == []
    assert resque.queues.size("test") == 1
    assert resque.queues.paused() == {"test"}
    resque.queues.resume("test")
    wait_for(lambda: events.of("ran", tag="held"), timeout=5, what="the resumed queue")
