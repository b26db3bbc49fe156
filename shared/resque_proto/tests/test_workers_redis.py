import os
import time

import pytest
import redis

from resque_proto import Resque, connect, timefmt
from resque_proto.text import text
from resque_proto.workers import make_worker_id, parse_worker_id


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


def test_worker_ids_are_resque_shaped() -> None:
    worker_id = make_worker_id(["high", "low"], 42, "vm")
    assert worker_id == "vm:42:high,low"
    assert parse_worker_id(worker_id) == ("vm", 42, ["high", "low"])
    assert parse_worker_id("odd-id") == ("odd-id", None, [])


def test_worker_ids_leave_out_skip_patterns_as_ruby_does() -> None:
    # Resque 3.0: QUEUES="critical,!low,high*,*,!tmp*,critical" gives the id
    # "vm:42:critical,high*,*,critical" (order, globs and duplicates kept).
    patterns = ["critical", "!low", "high*", "*", "!tmp*", "critical"]
    assert make_worker_id(patterns, 42, "vm") == "vm:42:critical,high*,*,critical"
    assert make_worker_id(["!low"], 42, "vm") == "vm:42:"


def test_register_writes_resque_keys(resque: Resque, redis_client: redis.Redis) -> None:
    resque.workers.register("vm:1:q")
    assert redis_client.smembers("resque:workers") == {b"vm:1:q"}
    started = text(redis_client.get("resque:worker:vm:1:q:started")) or ""
    assert time.strptime(started, "%Y-%m-%d %H:%M:%S %z")
    beat = text(redis_client.hget("resque:workers:heartbeat", "vm:1:q")) or ""
    assert abs(timefmt.parse_heartbeat(beat).timestamp() - time.time()) < 5
    info = resque.workers.get("vm:1:q")
    assert info is not None and info.ours and info.state == "idle" and info.heartbeat


def test_listing_shows_the_current_job(resque: Resque) -> None:
    resque.workers.register("vm:1:q")
    resque.enqueue("q", "Archive", 44, metadata=False)
    resque.jobs.reserve("vm:1:q", ["q"])
    (info,) = resque.workers.all()
    assert info.busy and info.job is not None
    assert info.job["payload"] == {"class": "Archive", "args": [44]}


def test_unregister_cleans_up_and_requeues_what_it_held(
    resque: Resque, redis_client: redis.Redis
) -> None:
    worker = f"vm:{os.getpid()}:q"
    resque.workers.register(worker)
    resque.enqueue_many([("q", "A", [1]), ("q", "A", [2])], metadata=False)
    resque.jobs.reserve(worker, ["q"])
    redis_client.incr(f"resque:stat:processed:{worker}")
    resque.workers.unregister(worker)
    assert [j.args for j in resque.queues.peek("q")] == [[1], [2]]
    assert sorted(redis_client.keys("*")) == [b"resque:queue:q", b"resque:queues"]


def test_pause_all_workers_flag(resque: Resque, redis_client: redis.Redis) -> None:
    assert not resque.stats.paused()
    resque.stats.pause_all()
    assert redis_client.get("resque:pause-all-workers") == b"true" and resque.stats.paused()
    resque.stats.resume_all()
    assert not resque.stats.paused()
