"""Retry policies and payloads, job statuses and paused queues, on a real Redis."""

from __future__ import annotations

import json
import random
import time

import pytest
import redis

from resque_proto import Resque
from resque_proto.errors import ValidationError
from resque_proto.jobs import RetryLater
from resque_proto.payload import decode_payload
from resque_proto.retry import (
    RetryPolicy,
    attempt_of,
    class_policy,
    lineage,
    policy_from,
    retry_payload,
)
from resque_proto.status import read_status


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    return Resque(redis_client, "resque", status_ttl=600)


def status_of(resque: Resque, payload: str) -> dict[str, object]:
    return read_status(resque.redis, resque.keys, json.loads(payload)["id"]) or {}


def test_delays_fixed_listed_and_exponential_with_jitter() -> None:
    assert RetryPolicy(limit=3, delay=5).delay_for(2) == 5
    listed = RetryPolicy(limit=5, backoff=(1, 10, 60))
    assert [listed.delay_for(n) for n in (1, 2, 3, 4)] == [1, 10, 60, 60]
    exponential = RetryPolicy(limit=5, delay=2, backoff="exponential")
    rng = random.Random(1)
    for attempt, base in ((1, 2), (2, 4), (3, 8)):
        assert 0.75 * base <= exponential.delay_for(attempt, rng) <= 1.25 * base


def test_which_failures_are_retried() -> None:
    names = lineage(TimeoutError)
    assert "OSError" in names and "TimeoutError" in names
    policy = RetryPolicy(limit=2, retry_exceptions=("OSError",), fatal_exceptions=("TimeoutError",))
    assert not policy.retries(names, 1)  # fatal wins
    assert policy.retries(lineage(ConnectionError), 2)
    assert not policy.retries(lineage(ConnectionError), 3)  # limit: two retries
    assert not policy.retries(lineage(KeyError), 1)  # not a retried exception
    assert RetryPolicy(limit=1).retries(["Resque::DirtyExit"], 1)  # any, when unrestricted


def test_policies_from_classes_and_settings_are_validated() -> None:
    class Declared:
        retry_limit = 2
        backoff = (1, 5)
        fatal_exceptions = (KeyError,)

    assert class_policy(Declared) == RetryPolicy(
        limit=2, backoff=(1.0, 5.0), fatal_exceptions=("KeyError",)
    )
    assert class_policy(type("Plain", (), {})) is None
    for settings, field in (
        ({"limit": -1}, "retry.limit"),
        ({"limit": True}, "retry.limit"),
        ({"delay": "soon"}, "retry.delay"),
        ({"backoff": "linear"}, "retry.backoff"),
        ({"backoff": []}, "retry.backoff"),
        ({"retry_exceptions": [3]}, "retry.retry_exceptions"),
        ({"tries": 3}, "retry.tries"),
    ):
        with pytest.raises(ValidationError) as caught:
            policy_from(settings, prefix="retry.")
        assert caught.value.field == field


def test_the_retry_payload_keeps_the_id_counts_the_attempt_and_ends_with_the_queue() -> None:
    job = decode_payload('{"class":"Archive","args":[44],"id":"abc","enqueued_at":1.5}')
    assert attempt_of(job) == 1
    payload = retry_payload(job, "file_serve", 2)
    assert payload == '{"class":"Archive","args":[44],"id":"abc","attempt":2,"queue":"file_serve"}'
    assert attempt_of(decode_payload(payload)) == 2


def test_a_retried_finish_reschedules_instead_of_recording_a_failure(resque: Resque) -> None:
    resque.enqueue("q", "Archive", 44)
    held = resque.jobs.reserve("w:1:q", ["q"])
    assert held is not None
    later = int(time.time()) + 60
    again = retry_payload(decode_payload(held.payload), "q", 2)
    assert resque.jobs.finish("w:1:q", held, 0.1, retry=RetryLater(later, again))
    assert resque.redis.llen("resque:failed") == 0
    assert resque.delayed.jobs_at(later) == [again]
    assert resque.delayed.scheduled_at(again) == [later]
    assert resque.redis.hget("resque:pyresque:retries", "q") == b"1"
    assert (resque.stats.processed(), resque.stats.failed()) == (1, 1)


def test_statuses_follow_the_job(resque: Resque) -> None:
    payload = resque.enqueue("q", "Archive", 44)
    assert status_of(resque, payload)["state"] == "queued"
    held = resque.jobs.reserve("w:1:q", ["q"])
    assert held is not None
    running = status_of(resque, payload)
    assert (running["state"], running["worker"], running["queue"]) == ("running", "w:1:q", "q")
    assert resque.jobs.requeue("w:1:q", held)
    assert status_of(resque, payload)["state"] == "queued"
    later = resque.enqueue_in(60, "q", "Later")
    [due] = resque.delayed.scheduled_at(later)
    scheduled = status_of(resque, later)
    assert (scheduled["state"], scheduled["scheduled_for"]) == ("scheduled", due)
    resque.delayed.run_now(due)
    assert status_of(resque, later)["state"] == "queued"
    assert 0 < resque.redis.ttl(f"resque:pyresque:status:{json.loads(payload)['id']}") <= 600


def test_no_status_without_an_id_or_with_the_expiry_off(redis_client: redis.Redis) -> None:
    off = Resque(redis_client, "resque", status_ttl=0)
    off.enqueue("q", "Archive", 1)
    off.jobs.reserve("w:1:q", ["q"])
    Resque(redis_client, "resque", status_ttl=600).enqueue("q", "Ruby", 2, metadata=False)
    assert redis_client.keys("resque:pyresque:status:*") == []


def test_a_paused_queue_is_skipped_by_reserve(resque: Resque) -> None:
    resque.enqueue("high", "Archive", 1)
    resque.enqueue("low", "Archive", 2)
    resque.queues.pause("high")
    assert resque.queues.paused(["high", "low"]) == {"high"}
    taken = resque.jobs.reserve("w:1:high,low", ["high", "low"])
    assert taken is not None and taken.queue == "low"
    assert resque.jobs.reserve("w:1:high,low", ["high"]) is None
    resque.queues.resume("high")
    taken = resque.jobs.reserve("w:1:high,low", ["high", "low"])
    assert taken is not None and taken.queue == "high"
