"""Recurring definitions (resque-scheduler's format) and firing once per period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from resque_proto import Resque
from resque_proto.errors import ValidationError
from resque_proto.leader import LeaderLock
from resque_proto.recurring import env_matches, job_args, parse_entry, parse_every
from resque_proto.schedules import ALREADY_FIRED, FIRED, NOT_LEADER


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), (90, 90),
     ("45", 45), (["10m", {"first_in": "1m"}], 600)],
)  # fmt: skip
def test_every_durations_as_rufus_writes_them(written: object, seconds: float) -> None:
    assert parse_every(written) == seconds


@pytest.mark.parametrize("written", ["", "soon", "5 minutes", 0, True, None, "0.2s"])
def test_bad_durations_are_refused(written: object) -> None:
    with pytest.raises(ValidationError):
        parse_every(written)


def test_args_follow_enqueue_from_config() -> None:
    assert job_args(None) == []
    assert job_args([1, 2]) == [1, 2]
    assert job_args({"a": 1}) == [{"a": 1}]
    assert job_args("x") == ["x"]


def test_cron_periods_with_a_zone_and_with_seconds() -> None:
    paris = parse_entry("p", {"cron": "0 5 * * * Europe/Paris", "queue": "q"})
    assert paris.class_name == "p"  # the name stands in for a missing class
    assert paris.period_start(at("2026-12-02T06:30:00")) == at("2026-12-02T04:00:00")
    assert paris.next_fire(at("2026-12-02T04:00:00")) == at("2026-12-03T04:00:00")
    seconds = parse_entry("s", {"cron": "*/10 * * * * *", "class": "S", "queue": "q"})
    assert seconds.period_start(at("2026-12-02T06:30:25")) == at("2026-12-02T06:30:20")
    assert seconds.period_start(at("2026-12-02T06:30:20")) == at("2026-12-02T06:30:20")


def test_every_periods_are_aligned_to_the_epoch() -> None:
    entry = parse_entry("e", {"every": "1h", "class": "E", "queue": "q"})
    assert entry.period_start(at("2026-12-02T06:30:00")) == at("2026-12-02T06:00:00")
    assert entry.next_fire(at("2026-12-02T06:00:00")) == at("2026-12-02T07:00:00")


def test_cron_wins_over_every_and_bad_definitions_name_the_member() -> None:
    both = parse_entry("b", {"cron": "0 * * * *", "every": "1m", "class": "B", "queue": "q"})
    assert both.timing == "0 * * * *"
    with pytest.raises(ValidationError, match="queue"):
        parse_entry("b", {"cron": "0 * * * *", "class": "B"})
    with pytest.raises(ValidationError, match="neither cron nor every"):
        parse_entry("b", {"class": "B", "queue": "q"})


def test_env_filter() -> None:
    assert env_matches({}, None)
    assert env_matches({"rails_env": "production, staging"}, "staging")
    assert not env_matches({"env": "production"}, "staging")
    assert not env_matches({"env": "production"}, None)


def test_firing_needs_the_lock_and_happens_once_per_period(redis_client: redis.Redis) -> None:
    resque = Resque(redis_client, "resque")
    entry = parse_entry("tea", {"every": "1m", "class": "Tea", "queue": "kitchen", "args": [1]})
    lock = LeaderLock(redis_client, resque.keys, timeout=10, value="here:1")
    assert resque.schedules.fire(entry, 600.0, lock.value) == NOT_LEADER
    assert lock.acquire_or_renew()
    assert not LeaderLock(redis_client, resque.keys, 10, value="there:2").acquire_or_renew()
    assert resque.schedules.fire(entry, 600.0, lock.value) == FIRED
    assert resque.schedules.fire(entry, 600.0, lock.value) == ALREADY_FIRED
    assert resque.schedules.fire(entry, 540.0, lock.value) == ALREADY_FIRED
    assert resque.schedules.fire(entry, 660.0, lock.value) == FIRED
    assert redis_client.llen("resque:queue:kitchen") == 2
    assert redis_client.sismember("resque:queues", "kitchen")
    assert redis_client.hget("resque:pyresque:schedule:fired", "tea") == b"660.0"
    assert lock.release()
    assert redis_client.get("resque:resque_scheduler_master_lock") is None


def test_schedule_definitions_from_both_hashes(redis_client: redis.Redis) -> None:
    resque = Resque(redis_client, "resque")
    redis_client.hset("resque:persistent_schedules", "old", '{"every":"1h","queue":"q"}')
    redis_client.hset("resque:schedules", "broken", "{nope")
    resque.schedules.put("new", {"cron": "0 * * * *", "class": "New", "queue": "q"})
    stored = resque.schedules.stored()
    assert sorted(stored.definitions) == ["new", "old"]
    assert list(stored.unreadable) == ["broken"]
    assert redis_client.smembers("resque:schedules_changed") == {b"new"}
    assert resque.schedules.take_changed() == {"new"}
    resque.schedules.remove(["old"])
    assert sorted(resque.schedules.stored().definitions) == ["new"]
