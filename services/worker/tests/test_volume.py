"""Many jobs: exactly once across two workers, and nothing lost across a Redis restart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import redis
from worker_harness import Events, WorkerProcess, wait_for

from redis_runner import RedisServer
from resque_proto import Resque, connect
from resque_proto.histogram import cumulative

Spawn = Callable[..., WorkerProcess]


def enqueue_records(resque: Resque, count: int) -> None:
    for start in range(0, count, 500):
        resque.enqueue_many(("test", "Record", [n]) for n in range(start, min(start + 500, count)))


def test_two_workers_run_five_thousand_jobs_exactly_once(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    enqueue_records(resque, 5000)
    workers = [spawn_worker(INTERVAL="0") for _ in range(2)]
    assert [w.wait(timeout=240) for w in workers] == [0, 0]
    runs = Counter(e["tag"] for e in events.of("ran"))
    assert set(runs) == set(range(5000))
    assert max(runs.values()) == 1
    assert resque.stats.processed() == 5000 and resque.failures.count() == 0
    assert resque.queues.size("test") == 0
    buckets, total, count = cumulative(resque.redis.hgetall(resque.keys.durations("test")))
    assert count == 5000 and buckets[-1] == ("+Inf", 5000) and total > 0


def test_a_redis_restart_during_two_thousand_jobs_loses_nothing(
    spawn_worker: Spawn, events: Events, fresh_redis: Callable[[], RedisServer]
) -> None:
    server = fresh_redis()
    resque = Resque(connect(server.url))
    enqueue_records(resque, 2000)
    worker = spawn_worker(REDIS_URL=server.url)
    wait_for(lambda: len(events.of("ran")) >= 500, what="a quarter of the jobs")
    server.restart(downtime=1.0)

    def all_settled() -> bool:
        try:
            return resque.stats.processed() == 2000 and resque.queues.size("test") == 0
        except redis.ConnectionError:
            return False

    wait_for(all_settled, timeout=180, what="every job to be processed after the restart")
    runs = Counter(e["tag"] for e in events.of("ran"))
    assert set(runs) == set(range(2000))
    assert max(runs.values()) == 1
    assert resque.jobs.in_flight(worker.id) == []
    assert resque.failures.count() == 0
    assert worker.logged("Redis unavailable; retrying with backoff")
    assert worker.logged("Redis reachable again")
    assert worker.process.poll() is None


def test_a_worker_started_while_redis_is_down_waits_for_it(
    spawn_worker: Spawn, events: Events, fresh_redis: Callable[[], RedisServer]
) -> None:
    server = fresh_redis()
    server.kill()
    worker = spawn_worker(REDIS_URL=server.url)
    wait_for(lambda: worker.logged("Redis unavailable; retrying with backoff"), what="a retry")
    server.start()
    resque = Resque(connect(server.url))
    resque.enqueue("test", "Record", "after-outage")
    wait_for(lambda: events.of("ran", tag="after-outage"), what="the job once Redis is up")
    assert worker.id in resque.workers.ids()
    assert worker.process.poll() is None
