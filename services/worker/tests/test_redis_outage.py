"""A Redis outage longer than RESQUE_PRUNE_AFTER must not make live workers look dead."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from worker_harness import wait_for

from redis_runner import RedisServer
from resque_proto import Resque, connect


def test_jobs_running_through_a_long_outage_run_once(
    spawn_worker: Any, events: Any, fresh_redis: Callable[[], RedisServer]
) -> None:
    server = fresh_redis()
    resque = Resque(connect(server.url))
    resque.enqueue("test", "Sleep", "long", 12)
    common = {"REDIS_URL": server.url, "RESQUE_PRUNE_AFTER": "3", "RESQUE_PRUNE_INTERVAL": "0.5"}
    spawn_worker(RESQUE_HEARTBEAT_INTERVAL="2.5", **common)
    wait_for(lambda: events.of("start", tag="long"), what="the job to start")
    spawn_worker(RESQUE_HEARTBEAT_INTERVAL="1", **common)
    time.sleep(1.5)  # both registered and beating
    server.restart(downtime=5.0)  # longer than RESQUE_PRUNE_AFTER
    wait_for(lambda: events.of("finish", tag="long"), timeout=60, what="the job to finish")
    wait_for(lambda: resque.stats.processed() == 1, what="the job to be acknowledged")
    assert len(events.of("start", tag="long")) == 1
    assert resque.redis.hlen(resque.keys.redeliveries) == 0
    assert resque.queues.size("test") == 0 and resque.failures.count() == 0
