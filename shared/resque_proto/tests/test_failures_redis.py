import json

import pytest
import redis

from resque_proto import FailureMoved, Resque, connect
from resque_proto.records import Failure
from resque_proto.text import text

from .wire_samples import UTC_DUMP, values

RUBY_FAILURE = values(UTC_DUMP, "resque:failed")[0]


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


def _fail(resque: Resque, n: int, queue: str = "q") -> str:
    return resque.failures.create(
        payload={"class": "A", "args": [n]}, exception="ValueError", error=f"bad {n}",
        backtrace=["job.py:1"], worker="h:1:q", queue=queue,
    )  # fmt: skip


def test_create_counts_and_pages(resque: Resque) -> None:
    for n in range(5):
        _fail(resque, n)
    assert resque.failures.count() == 5
    assert (resque.stats.failed(), resque.stats.failed("h:1:q")) == (5, 5)
    page = resque.failures.page(2, 2)
    assert [(f.index, f.payload["args"]) for f in page] == [(2, [2]), (3, [3])]


def test_retry_of_a_ruby_record_keeps_it_with_retried_at(
    resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.rpush("resque:failed", RUBY_FAILURE)
    resque.failures.retry(0, RUBY_FAILURE)
    record = text(redis_client.lindex("resque:failed", 0)) or ""
    assert record.startswith(RUBY_FAILURE[:-1] + ',"retried_at":"')
    assert redis_client.lrange("resque:queue:file_serve", 0, -1) == [
        b'{"class":"FailingArchive","args":[4242]}'
    ]
    assert b"file_serve" in redis_client.smembers("resque:queues")


def test_actions_address_the_exact_record_after_the_list_moved(resque: Resque) -> None:
    records = [_fail(resque, n) for n in range(3)]
    resque.failures.remove(records[0])
    resque.failures.retry(2, records[2])  # now at index 1: found by content
    assert json.loads(resque.failures.page(1, 1)[0].raw)["retried_at"]
    assert resque.queues.peek("q")[0].args == [2]
    with pytest.raises(FailureMoved):
        resque.failures.retry(0, records[0])
    with pytest.raises(FailureMoved):
        resque.failures.remove(records[0])


def test_retry_all_clear_retried_and_clear(resque: Resque) -> None:
    for n in range(4):
        _fail(resque, n)
    assert resque.failures.retry_all() == 4
    assert resque.queues.size("q") == 4
    _fail(resque, 9)
    assert resque.failures.clear_retried() == 4
    assert [f.payload["args"] for f in resque.failures.all()] == [[9]]
    assert resque.failures.clear() == 1 and resque.failures.count() == 0


def test_bulk_actions_at_scale_keep_unretried_and_unreadable_records(resque: Resque) -> None:
    """retry_all pipelines in batches; clear_retried keys on the top-level retried_at only."""
    for n in range(1200):
        _fail(resque, n)
    resque.redis.rpush(resque.keys.failed, "not json")
    assert resque.failures.retry_all() == 1200
    assert resque.queues.size("q") == 1200
    nested = resque.failures.create(
        payload={"class": "A", "args": [{"retried_at": "not a retry"}]}, exception="E",
        error='mentions "retried_at":"x"}', backtrace=[], worker="h:1:q", queue="q",
    )  # fmt: skip
    assert resque.failures.clear_retried() == 1200
    assert [f.raw for f in resque.failures.all()] == ["not json", nested]
    assert resque.failures.clear_retried() == 0


RUBY_RETRIED = (
    '{"failed_at":"2026/11/27 18:40:32 UTC","payload":{"class":"SleepJob","args":[1]},'
    '"exception":"Resque::DirtyExit","error":"killed","backtrace":[],"worker":"vm:24860:low",'
    '"queue":"low","retried_at":"2026/11/27 18:40:38 UTC"}'
)


def test_retry_all_skips_records_already_retried(resque: Resque, redis_client: redis.Redis) -> None:
    """A retried record keeps its place in the list; retrying it again duplicates the job."""
    records = [_fail(resque, n) for n in range(3)]
    resque.failures.retry(1, records[1])  # someone retried one record already ...
    redis_client.rpush("resque:failed", RUBY_RETRIED)  # ... and Ruby's resque-web another
    assert resque.failures.retry_all() == 2
    assert sorted(job.args[0] for job in resque.queues.peek("q", 0, 10)) == [0, 1, 2]
    assert resque.queues.size("low") == 0
    assert resque.failures.retry_all() == 0  # every record is retried now
    assert resque.queues.size("q") == 3


def test_retry_all_with_a_filter_retries_only_the_matching_records(resque: Resque) -> None:
    for n in range(4):
        _fail(resque, n, queue="a" if n % 2 else "b")
    outcome = resque.failures.retry_matching(lambda failure: failure.queue == "a")
    assert (outcome.matched, outcome.retried, outcome.already_retried) == (2, 2, 0)
    assert [job.args for job in resque.queues.peek("a", 0, 10)] == [[1], [3]]
    assert resque.queues.size("b") == 0
    assert resque.failures.retry_all(lambda failure: failure.queue == "a") == 0
    again = resque.failures.retry_matching(lambda failure: failure.queue == "a")
    assert (again.matched, again.retried, again.already_retried) == (2, 0, 2)
    assert resque.failures.retry_all() == 2  # the two of queue b
    assert resque.queues.size("a") == 2 and resque.queues.size("b") == 2


def test_retry_matching_counts_unretryable_and_changed_records(resque: Resque) -> None:
    from resque_proto.failures import RetryOutcome

    records = [_fail(resque, n) for n in range(3)]
    resque.redis.rpush(resque.keys.failed, '{"error":"no queue, no payload"}')

    def remove_one_meanwhile(failure: Failure) -> bool:
        if failure.raw == records[2]:  # removed between the read and the retry
            resque.failures.remove(records[2])
        return True

    outcome = resque.failures.retry_matching(remove_one_meanwhile)
    assert outcome == RetryOutcome(matched=4, retried=2, already_retried=0, unretryable=1, gone=1)
    assert resque.queues.size("q") == 2
