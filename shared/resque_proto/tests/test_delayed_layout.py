"""resque-scheduler's delayed-job layout, byte for byte, on a real Redis.

The samples are written by hand from resque-scheduler 4.x's source
(delaying_extensions.rb: ``delayed_push``, ``job_to_hash_with_queue``,
``next_item_for_timestamp``; scheduler.rb: ``enqueue_from_config``), the way
Ruby's JSON encodes them.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from resque_proto import Resque
from resque_proto.delayed_payload import due_timestamp, encode_delayed_payload
from resque_proto.text import text

RUBY_DELAYED = '{"class":"Archive","args":[44,"café",1.5e+20],"queue":"file_serve"}'
RUBY_PUSHED = '{"class":"Archive","args":[44,"café",1.5e+20]}'
NODE_DELAYED = '{"class":"Archive","queue":"file_serve","args":[44]}'


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    return Resque(redis_client, "resque")


def file_as_ruby(client: redis.Redis, ts: int, payload: str) -> None:
    client.rpush(f"resque:delayed:{ts}", payload)
    client.sadd(f"resque:timestamps:{payload}", f"delayed:{ts}")
    client.zadd("resque:delayed_queue_schedule", {str(ts): ts})


def test_enqueue_at_writes_exactly_what_delayed_push_writes(
    resque: Resque, redis_client: redis.Redis
) -> None:
    when = int(time.time()) + 3600
    payload = resque.enqueue_at(when, "file_serve", "Archive", 44, "café", metadata=False)
    ruby = '{"class":"Archive","args":[44,"café"],"queue":"file_serve"}'
    assert payload == ruby
    assert redis_client.zrange("resque:delayed_queue_schedule", 0, -1, withscores=True) == [
        (str(when).encode(), float(when))
    ]
    assert redis_client.lrange(f"resque:delayed:{when}", 0, -1) == [ruby.encode()]
    assert redis_client.smembers(f"resque:timestamps:{ruby}") == {f"delayed:{when}".encode()}
    assert sorted(redis_client.keys("*")) == sorted(
        k.encode()
        for k in (
            "resque:delayed_queue_schedule",
            f"resque:delayed:{when}",
            f"resque:timestamps:{ruby}",
        )
    )


def test_our_payloads_carry_an_id_before_the_queue(resque: Resque) -> None:
    payload = resque.enqueue_in(60, "file_serve", "Archive", 44)
    body = json.loads(payload)
    assert list(body) == ["class", "args", "id", "queue"]
    assert payload == encode_delayed_payload("file_serve", "Archive", [44], body["id"])


def test_a_float_time_is_filed_under_the_next_whole_second() -> None:
    assert due_timestamp(1000.2) == 1001
    assert due_timestamp(1000.0) == 1000


def test_a_past_time_enqueues_at_once(resque: Resque, redis_client: redis.Redis) -> None:
    resque.enqueue_at(time.time() - 10, "file_serve", "Archive", 44, metadata=False)
    assert redis_client.lrange("resque:queue:file_serve", 0, -1) == [
        b'{"class":"Archive","args":[44]}'
    ]
    assert redis_client.zcard("resque:delayed_queue_schedule") == 0


def test_moving_a_ruby_payload_pushes_what_enqueue_from_config_pushes(
    resque: Resque, redis_client: redis.Redis
) -> None:
    ts = int(time.time()) - 1
    file_as_ruby(redis_client, ts, RUBY_DELAYED)
    file_as_ruby(redis_client, ts, NODE_DELAYED)
    result = resque.delayed.move_due()
    assert (result.moved, result.invalid, result.next_due) == (2, 0, None)
    assert redis_client.lrange("resque:queue:file_serve", 0, -1) == [
        RUBY_PUSHED.encode(),
        NODE_DELAYED.encode(),  # not in Ruby's order: pushed unchanged, workers ignore "queue"
    ]
    assert redis_client.smembers("resque:queues") == {b"file_serve"}
    assert sorted(redis_client.keys("*")) == [
        b"resque:pyresque:schedule_lag",
        b"resque:queue:file_serve",
        b"resque:queues",
    ]


def test_moving_our_payload_keeps_its_id_and_stamps_enqueued_at(
    resque: Resque, redis_client: redis.Redis
) -> None:
    ts = int(time.time()) - 1
    ours = encode_delayed_payload("file_serve", "Archive", [44], "abc123")
    file_as_ruby(redis_client, ts, ours)
    before = time.time()
    resque.delayed.move_due()
    pushed = text(redis_client.lindex("resque:queue:file_serve", 0)) or ""
    prefix = '{"class":"Archive","args":[44],"id":"abc123","enqueued_at":'
    assert pushed.startswith(prefix) and pushed.endswith("}")
    assert before - 1 < float(pushed[len(prefix) : -1]) < time.time() + 1


def test_jobs_not_yet_due_stay(resque: Resque, redis_client: redis.Redis) -> None:
    later = int(time.time()) + 30
    file_as_ruby(redis_client, later, RUBY_DELAYED)
    result = resque.delayed.move_due()
    assert (result.moved, result.next_due) == (0, later)
    assert redis_client.llen(f"resque:delayed:{later}") == 1


def test_unusable_payloads_become_failure_records_and_nothing_is_lost(
    resque: Resque, redis_client: redis.Redis
) -> None:
    ts = int(time.time()) - 1
    for payload in (
        "not json",
        '{"class":"NoQueue","args":[]}',
        '{"class":"X","args":[],"queue":"bad"}',
    ):
        file_as_ruby(redis_client, ts, payload)
    redis_client.set("resque:queue:bad", "a string, not a list")
    result = resque.delayed.move_due()
    assert (result.moved, result.invalid) == (0, 3)
    records = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert [r["exception"] for r in records] == ["Resque::Scheduler::InvalidDelayedPayload"] * 3
    assert [r["payload"] for r in records] == [
        {"class": None, "args": [], "raw": "not json"},
        {"class": "NoQueue", "args": []},
        {"class": "X", "args": [], "queue": "bad"},
    ]
    assert [r["error"] for r in records] == [
        "delayed payload is not JSON",
        'delayed payload has no "queue" string',
        "queue:bad holds a string",
    ]
    assert {(r["queue"], r["worker"]) for r in records} == {("delayed", "resque-scheduler")}
    assert list(records[0]) == [
        "failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"
    ]  # fmt: skip


def test_remove_and_scheduled_at_find_ruby_form_jobs(resque: Resque) -> None:
    later = int(time.time()) + 100
    resque.enqueue_at(later, "file_serve", "Archive", 44, metadata=False)
    resque.enqueue_at(later + 5, "file_serve", "Archive", 44, metadata=False)
    assert resque.scheduled_at("file_serve", "Archive", 44) == [later, later + 5]
    assert resque.delayed_count() == 2
    assert resque.remove_delayed("file_serve", "Archive", 44) == 2
    assert resque.delayed_count() == 0
    assert resque.delayed.timestamp_count() == 0


def test_remove_by_payload_and_by_timestamp(resque: Resque, redis_client: redis.Redis) -> None:
    later = int(time.time()) + 100
    ours = resque.enqueue_at(later, "file_serve", "Archive", 1)
    other = resque.enqueue_at(later, "file_serve", "Archive", 2)
    assert resque.remove_delayed_payload(ours) == 1
    assert resque.delayed.jobs_at(later) == [other]
    assert resque.delayed.remove_timestamp(later) == 1
    assert redis_client.keys("resque:[dt]*") == []  # the jobs' statuses stay until they expire


def test_run_now_moves_a_future_timestamp(resque: Resque, redis_client: redis.Redis) -> None:
    later = int(time.time()) + 100
    for n in range(3):
        resque.enqueue_at(later, "file_serve", "Archive", n, metadata=False)
    assert resque.delayed.timestamps() == [(later, 3)]
    assert resque.delayed.run_now(later) == 3
    assert redis_client.llen("resque:queue:file_serve") == 3
    assert resque.delayed.timestamp_count() == 0
    assert not redis_client.exists("resque:pyresque:schedule_lag")  # early runs are not lag
