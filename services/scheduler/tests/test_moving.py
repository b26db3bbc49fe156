"""Delayed jobs moved by real scheduler processes: promptly, once, and never lost."""

from __future__ import annotations

import json
import random
import signal
import time
from functools import partial

import pytest
import redis
from scheduler_harness import SchedulerProcess, StartScheduler

from redis_runner.polling import wait_for
from resque_proto import Resque
from resque_proto.delayed_payload import encode_delayed_payload

JOBS = 10_000


def schedule_numbered(resque: Resque, count: int, first_due: int, seconds: int) -> None:
    """``count`` jobs ``Numbered(i)`` spread over ``seconds`` seconds from ``first_due``."""
    entries = [
        (first_due + i % seconds, encode_delayed_payload("numbers", "Numbered", [i]))
        for i in range(count)
    ]
    for start in range(0, count, 2_000):
        resque.delayed.schedule(entries[start : start + 2_000])


def started_moving(scheduler: SchedulerProcess, client: redis.Redis) -> bool:
    return scheduler.logged("moved due delayed jobs") or not client.zcard(
        "resque:delayed_queue_schedule"
    )


def assert_each_moved_once(client: redis.Redis, count: int) -> None:
    jobs = client.lrange("resque:queue:numbers", 0, -1)
    numbers = sorted(json.loads(job)["args"][0] for job in jobs)
    assert numbers == list(range(count))
    assert client.zcard("resque:delayed_queue_schedule") == 0
    assert client.keys("resque:delayed:1*") == []
    assert client.keys("resque:timestamps:*") == []
    assert client.llen("resque:failed") == 0


def test_a_job_scheduled_while_running_is_moved_as_its_second_begins(
    resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    scheduler = start_scheduler()
    wait_for(lambda: scheduler.logged("scheduler starting"), what="the scheduler to start")
    payload = resque.enqueue_in(1.2, "file_serve", "Archive", 44)
    job_id = json.loads(payload)["id"]
    moved = wait_for(lambda: redis_client.lpop("resque:queue:file_serve"), timeout=10)
    job = json.loads(moved)
    assert (job["class"], job["args"], job["id"]) == ("Archive", [44], job_id)
    assert "queue" not in job
    lag = redis_client.hgetall("resque:pyresque:schedule_lag")
    assert lag[b"count"] == b"1"
    # Moved from the due second's start: the lag is well under the 1 s fallback poll.
    assert float(lag[b"sum"]) < 1.0


@pytest.mark.parametrize("replicas", [2, 3])
def test_racing_schedulers_move_every_job_exactly_once(
    replicas: int, resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    schedulers = [start_scheduler() for _ in range(replicas)]
    for scheduler in schedulers:
        wait_for(partial(scheduler.logged, "scheduler starting"), what="the schedulers")
    # Due in the coming seconds, so that every replica is awake when they fall due.
    schedule_numbered(resque, JOBS, int(time.time()) + 2, seconds=3)
    wait_for(
        lambda: (
            redis_client.llen("resque:queue:numbers") == JOBS
            and redis_client.zcard("resque:delayed_queue_schedule") == 0
        ),
        what="every job to be moved",
    )
    time.sleep(0.5)  # a double move would show up by now
    assert_each_moved_once(redis_client, JOBS)
    movers = [s for s in schedulers if any(e.get("moved") for e in s.logs())]
    assert len(movers) >= 2, "the replicas did not actually race"


def test_sigkill_mid_move_loses_nothing_and_duplicates_nothing(
    resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    count = 30_000
    schedule_numbered(resque, count, int(time.time()) - 5, seconds=5)
    kills = 0
    rng = random.Random(7)
    while redis_client.zcard("resque:delayed_queue_schedule"):
        scheduler = start_scheduler()
        wait_for(
            partial(started_moving, scheduler, redis_client), what="the scheduler to start moving"
        )
        time.sleep(rng.uniform(0.0, 0.02))
        scheduler.signal(signal.SIGKILL)
        scheduler.wait()
        kills += 1
    assert_each_moved_once(redis_client, count)
    assert kills >= 2, "the scheduler finished before it could be killed mid-move"


def test_a_ruby_scheduled_job_is_moved_as_ruby_would(
    start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    """Written exactly as resque-scheduler's delayed_push does; pushed as its
    enqueue_from_config pushes it: without the "queue" member."""
    ruby = '{"class":"Archive","args":[44,"x"],"queue":"file_serve"}'
    ts = int(time.time()) - 1
    redis_client.rpush(f"resque:delayed:{ts}", ruby)
    redis_client.sadd(f"resque:timestamps:{ruby}", f"delayed:{ts}")
    redis_client.zadd("resque:delayed_queue_schedule", {str(ts): ts})
    start_scheduler()
    moved = wait_for(lambda: redis_client.lpop("resque:queue:file_serve"), timeout=10)
    assert moved == b'{"class":"Archive","args":[44,"x"]}'
    assert redis_client.sismember("resque:queues", "file_serve")
    assert not redis_client.exists(f"resque:timestamps:{ruby}", f"resque:delayed:{ts}")
