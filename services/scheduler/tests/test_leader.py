"""The leader lock: one leader, a standby that takes over, a clean release on TERM."""

from __future__ import annotations

import signal
import socket
import time

import redis
from scheduler_harness import SchedulerProcess, StartScheduler

from redis_runner.polling import wait_for
from resque_proto.text import text

LOCK = "resque:resque_scheduler_master_lock"


def holder(client: redis.Redis) -> str | None:
    return text(client.get(LOCK))


def lock_of(scheduler: SchedulerProcess) -> str:
    """The holder's value without its random token: ``<hostname>:<pid>``."""
    return f"{socket.gethostname()}:{scheduler.pid}"


def held_by(client: redis.Redis, scheduler: SchedulerProcess) -> bool:
    value = holder(client) or ""
    return value.rsplit(":", 1)[0] == lock_of(scheduler)


def test_one_leader_and_a_standby_that_takes_over_within_the_lock_timeout(
    start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    first, second = start_scheduler(), start_scheduler()
    wait_for(lambda: held_by(redis_client, first) or held_by(redis_client, second), what="a leader")
    leader, standby = (first, second) if held_by(redis_client, first) else (second, first)
    time.sleep(1.5)  # renewals happen; the standby never steals the lock
    assert held_by(redis_client, leader)

    leader.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: held_by(redis_client, standby), timeout=10, what="the takeover")
    # Lock timeout 3 s, plus at most one renewal interval (1 s) of the standby, plus
    # slack for a loaded machine.
    took = time.monotonic() - killed_at
    assert took < 3 + 1 + 3, f"the standby took over after {took:.1f} s"
    wait_for(lambda: standby.logged("became the leader: running recurring schedules"))


def test_term_releases_the_lock_and_exits_zero(
    start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    scheduler = start_scheduler()
    wait_for(lambda: held_by(redis_client, scheduler), what="the lock")
    scheduler.signal(signal.SIGTERM)
    assert scheduler.wait(10) == 0
    assert holder(redis_client) is None


def test_a_ruby_leader_keeps_the_lock_and_ours_stands_by(
    start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    redis_client.set(LOCK, "rubyhost:4242", ex=30)
    redis_client.hset(
        "resque:schedules", "tea", '{"cron":"* * * * * *","class":"Tea","queue":"kitchen"}'
    )
    scheduler = start_scheduler()
    wait_for(lambda: scheduler.logged("scheduler starting"), what="the scheduler to start")
    time.sleep(2.5)
    assert holder(redis_client) == "rubyhost:4242"
    assert redis_client.llen("resque:queue:kitchen") == 0
    scheduler.signal(signal.SIGQUIT)
    assert scheduler.wait(10) == 0
    assert holder(redis_client) == "rubyhost:4242"
