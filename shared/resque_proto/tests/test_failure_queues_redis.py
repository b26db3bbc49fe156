"""Ruby's redis_multi_queue failure layout and the queue-scoped actions, on a real Redis.

Ruby's RedisMultiQueue#save writes the same record as the plain backend, to
``<queue>_failed``, after ``SADD failed_queues <queue>_failed``; its requeue appends
``retried_at`` without a zone. The records below are built exactly so.
"""

import json

import pytest
import redis

from resque_proto import Resque, connect
from resque_proto.failures import RetryOutcome, failure_queue_name, job_queue_name
from resque_proto.text import text, texts

from .wire_samples import UTC_DUMP, values

RUBY_FAILURE = values(UTC_DUMP, "resque:failed")[0]  # queue file_serve
RUBY_MULTI_RETRIED = (
    '{"failed_at":"2026/11/27 18:40:32 UTC","payload":{"class":"SleepJob","args":[1]},'
    '"exception":"Resque::DirtyExit","error":"killed","backtrace":[],"worker":"vm:24860:low",'
    '"queue":"low","retried_at":"2026/11/27 18:40:38"}'
)


def ruby_record(queue: str, n: int) -> str:
    return json.dumps(
        {"failed_at": "2026/11/27 18:47:43 UTC", "payload": {"class": "Archive", "args": [n]},
         "exception": "ArchiveError", "error": f"cannot archive repo {n}",
         "backtrace": ["resque_roundtrip.rb:90:in `perform'"], "worker": f"vm:3887:{queue}",
         "queue": queue},
        separators=(",", ":"),
    )  # fmt: skip


def ruby_multi_queue_fail(client: redis.Redis, record: str) -> None:
    """What a Ruby worker on RedisMultiQueue does for one failure."""
    name = json.loads(record)["queue"] + "_failed"
    client.sadd("resque:failed_queues", name)
    client.rpush(f"resque:{name}", record)


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


def _fail(resque: Resque, n: int, queue: str) -> str:
    return resque.failures.create(
        payload={"class": "A", "args": [n]}, exception="ValueError", error=f"bad {n}",
        backtrace=["job.py:1"], worker="h:1:q", queue=queue,
    )  # fmt: skip


def test_names_follow_ruby() -> None:
    assert failure_queue_name("file_serve") == "file_serve_failed"
    assert job_queue_name("file_serve_failed") == "file_serve"


def test_multi_queue_lists_are_found_counted_and_paged(
    resque: Resque, redis_client: redis.Redis
) -> None:
    assert resque.failures.failure_queues() == {}
    ruby_multi_queue_fail(redis_client, RUBY_FAILURE)
    for n in range(3):
        ruby_multi_queue_fail(redis_client, ruby_record("low", n))
    redis_client.sadd("resque:failed_queues", "gone_failed")  # Ruby's remove_queue keeps it
    assert resque.failures.failure_queues() == {
        "file_serve_failed": 1, "gone_failed": 0, "low_failed": 3
    }  # fmt: skip
    assert resque.failures.list_names() == ["failed", "file_serve_failed", "gone_failed",
                                            "low_failed"]  # fmt: skip
    assert resque.failures.count() == 0  # the plain list is untouched
    low = resque.failures.for_queue("low")
    assert low.count() == 3
    assert [(f.index, f.payload["args"]) for f in low.page(0, 2)] == [(0, [0]), (1, [1])]
    assert [(f.index, f.payload["args"]) for f in low.newest(0, 2)] == [(2, [2]), (1, [1])]
    assert [(f.index, f.payload["args"]) for f in low.newest(2, 2)] == [(0, [0])]
    assert resque.failures.in_list("file_serve_failed").all()[0].raw == RUBY_FAILURE


def test_only_failed_and_members_of_failed_queues_are_lists(
    resque: Resque, redis_client: redis.Redis
) -> None:
    ruby_multi_queue_fail(redis_client, ruby_record("low", 0))
    assert resque.failures.is_list("failed") and resque.failures.is_list("low_failed")
    assert not resque.failures.is_list("queue:low")
    assert not resque.failures.is_list("high_failed")


def test_we_never_create_records_in_a_multi_queue_list(resque: Resque) -> None:
    with pytest.raises(ValueError, match="only created in the failed list"):
        resque.failures.for_queue("low").create(
            payload={}, exception="E", error="", backtrace=[], worker="w", queue="low"
        )


def test_retry_and_remove_address_exact_bytes_in_a_multi_queue_list(
    resque: Resque, redis_client: redis.Redis
) -> None:
    records = [ruby_record("low", n) for n in range(3)]
    for record in records:
        ruby_multi_queue_fail(redis_client, record)
    low = resque.failures.for_queue("low")
    low.remove(records[0])
    low.retry(2, records[2])  # now at index 1: found by its bytes
    stored = texts(redis_client.lrange("resque:low_failed", 0, -1))
    assert stored[0] == records[1]
    assert stored[1].startswith(records[2][:-1] + ',"retried_at":"')
    assert redis_client.lrange("resque:queue:low", 0, -1) == [b'{"class":"Archive","args":[2]}']


def test_requeue_queue_covers_both_layouts_and_never_duplicates(
    resque: Resque, redis_client: redis.Redis
) -> None:
    _fail(resque, 0, "low")
    _fail(resque, 1, "high")
    ruby_multi_queue_fail(redis_client, ruby_record("low", 2))
    ruby_multi_queue_fail(redis_client, RUBY_MULTI_RETRIED)  # retried by Ruby already
    ruby_multi_queue_fail(redis_client, ruby_record("high", 3))
    outcome = resque.failures.requeue_queue("low")
    assert outcome == RetryOutcome(matched=3, retried=2, already_retried=1)
    assert sorted(job.args[0] for job in resque.queues.peek("low", 0, 10)) == [0, 2]
    assert resque.queues.size("high") == 0
    assert resque.failures.requeue_queue("low") == RetryOutcome(matched=3, already_retried=3)
    assert resque.queues.size("low") == 2
    ruby_retried = text(redis_client.lindex("resque:low_failed", 1))
    assert ruby_retried == RUBY_MULTI_RETRIED  # untouched
    assert resque.failures.count() == 2 and resque.failures.for_queue("low").count() == 2


def test_remove_queue_deletes_one_queues_failures_from_both_layouts(
    resque: Resque, redis_client: redis.Redis
) -> None:
    kept = [_fail(resque, 0, "high")]
    _fail(resque, 1, "low")
    redis_client.rpush("resque:failed", "not json")
    kept.append("not json")
    _fail(resque, 2, "low")
    kept.append(_fail(resque, 3, "lower"))
    ruby_multi_queue_fail(redis_client, ruby_record("low", 4))
    ruby_multi_queue_fail(redis_client, ruby_record("high", 5))
    assert resque.failures.remove_queue("low") == 3
    assert [f.raw for f in resque.failures.all()] == kept
    assert not redis_client.exists("resque:low_failed")
    assert resque.failures.failure_queues() == {"high_failed": 1, "low_failed": 0}
    assert resque.failures.remove_queue("low") == 0
