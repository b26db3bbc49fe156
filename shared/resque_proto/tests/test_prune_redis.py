import multiprocessing
import time

import pytest
import redis

from resque_proto import PrunePolicy, Resque, connect, timefmt
from resque_proto.recovery import recover_worker

POLICY = PrunePolicy(ours_stale_after=2, redelivery_limit=2, lock_seconds=1)


def wait_for_uptime(client: redis.Redis, seconds: float) -> None:
    """Pruning waits until Redis has been up ``ours_stale_after`` seconds."""
    while float(client.info("server")["uptime_in_seconds"]) < seconds:
        time.sleep(0.2)


@pytest.fixture
def resque(redis_url: str) -> Resque:
    resque = Resque(connect(redis_url))
    wait_for_uptime(resque.redis, POLICY.ours_stale_after)
    return resque


def _holding_worker(resque: Resque, worker: str, *args: object, age: float = 100.0) -> None:
    """Our worker holding one job, whose last heartbeat is ``age`` seconds old."""
    resque.workers.register(worker)
    resque.enqueue("q", "Archive", *args, metadata=False)
    assert resque.jobs.reserve(worker, ["q"]) is not None
    resque.redis.hset(resque.keys.our_heartbeats, worker, repr(time.time() - age))


def test_dead_worker_job_goes_back_with_a_redelivery_count(
    resque: Resque, redis_client: redis.Redis
) -> None:
    _holding_worker(resque, "gone:1:q", 44)
    _holding_worker(resque, "alive:2:q", 45, age=0)
    (recovery,) = resque.prune_dead_workers("pruner:9:q", POLICY)
    assert recovery.worker_id == "gone:1:q" and len(recovery.requeued) == 1
    assert [j.args for j in resque.queues.peek("q")] == [[44]]
    assert redis_client.hget(resque.keys.redeliveries, '{"class":"Archive","args":[44]}') == b"1"
    assert resque.workers.ids() == ["alive:2:q"]
    assert redis_client.exists(resque.keys.inflight("gone:1:q")) == 0


def test_prune_lock_lets_one_pruner_at_a_time(resque: Resque) -> None:
    _holding_worker(resque, "alive:1:q", 1, age=0)
    assert resque.prune_dead_workers("a", PrunePolicy(lock_seconds=60)) == []  # none dead
    _holding_worker(resque, "gone:2:q", 2)
    assert resque.prune_dead_workers("b", POLICY) == []  # lock still held by "a"
    assert resque.redis.get(resque.keys.prune_lock) == b"a"


def test_a_job_that_keeps_killing_workers_becomes_a_failure(resque: Resque) -> None:
    for attempt in range(3):
        if attempt:
            assert resque.jobs.reserve(f"w:{attempt}:q", ["q"]) is not None
            resque.workers.register(f"w:{attempt}:q")
            resque.redis.hset(resque.keys.our_heartbeats, f"w:{attempt}:q", "1.0")
        else:
            _holding_worker(resque, "w:0:q", 7)
        resque.redis.delete(resque.keys.prune_lock)
        resque.prune_dead_workers("pruner", POLICY)
    assert resque.queues.size("q") == 0
    (failure,) = resque.failures.all()
    assert failure.exception == "Resque::PruneDeadWorkerDirtyExit"
    assert (failure.error or "").startswith(
        "Worker w:2:q did not gracefully exit while processing Archive"
    )
    assert resque.redis.hlen(resque.keys.redeliveries) == 0


def test_ruby_workers_are_judged_by_resque_rules(resque: Resque, redis_client: redis.Redis) -> None:
    now = time.time()
    for worker, age in (("ruby:1:q", 200), ("ruby:2:q", 400)):
        redis_client.sadd("resque:workers", worker)
        redis_client.hset("resque:workers:heartbeat", worker, timefmt.heartbeat(now - age))
        redis_client.set(
            f"resque:worker:{worker}",
            '{"queue":"q","run_at":"2026-11-27T18:40:32Z","payload":{"class":"SleepJob","args":[1]}}',
        )
    (recovery,) = resque.prune_dead_workers("pruner", POLICY)
    assert recovery.worker_id == "ruby:2:q"
    (failure,) = resque.failures.all()
    assert failure.raw.endswith(
        '"payload":{"class":"SleepJob","args":[1]},"exception":"Resque::PruneDeadWorkerDirtyExit",'
        '"error":"Worker ruby:2:q did not gracefully exit while processing SleepJob",'
        '"backtrace":[],"worker":"ruby:2:q","queue":"q"}'
    )
    assert resque.workers.ids() == ["ruby:1:q"]


def _race(url: str, workers: list[str], start: float) -> None:
    resque = Resque(connect(url))
    while time.time() < start:
        pass
    for worker in workers:
        recover_worker(resque.redis, resque.keys, worker, requeue_limit=3)


def test_racing_pruners_recover_each_job_exactly_once(resque: Resque, redis_url: str) -> None:
    workers = [f"dead:{n}:q" for n in range(200)]
    for n, worker in enumerate(workers):
        _holding_worker(resque, worker, n)
    context = multiprocessing.get_context("fork")
    start = time.time() + 0.5
    racers = [context.Process(target=_race, args=(redis_url, workers, start)) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    assert sorted(j.args[0] for j in resque.queues.peek("q", 0, 1000)) == list(range(200))
    counts = resque.redis.hvals(resque.keys.redeliveries)
    assert len(counts) == 200 and set(counts) == {b"1"}
    assert resque.workers.ids() == []


def test_nothing_is_pruned_while_redis_has_just_restarted(fresh_redis) -> None:  # type: ignore[no-untyped-def]
    resque = Resque(connect(fresh_redis().url))
    _holding_worker(resque, "gone:1:q", 1)
    assert resque.prune_dead_workers("pruner", PrunePolicy(ours_stale_after=60)) == []
    assert resque.queues.size("q") == 0 and resque.jobs.in_flight("gone:1:q")


def test_a_worker_that_beats_again_before_recovery_keeps_its_job(resque: Resque) -> None:
    _holding_worker(resque, "slow:1:q", 1)
    resque.workers.heartbeat("slow:1:q")  # beat after the pruner judged it stale
    recovery = recover_worker(
        resque.redis, resque.keys, "slow:1:q", requeue_limit=3, unless_beat_within=2
    )
    assert recovery.requeued == [] and len(resque.jobs.in_flight("slow:1:q")) == 1
    assert resque.workers.ids() == ["slow:1:q"]


def test_an_unreadable_heartbeat_counts_as_stale_and_is_cleaned_up(resque: Resque) -> None:
    _holding_worker(resque, "odd:1:q", 5)
    resque.redis.hset(resque.keys.our_heartbeats, "odd:1:q", "not-a-number")
    (recovery,) = resque.prune_dead_workers("pruner", POLICY)
    assert recovery.worker_id == "odd:1:q" and resque.queues.size("q") == 1
    assert resque.redis.hlen(resque.keys.our_heartbeats) == 0
