"""The CLI on Ruby's redis_multi_queue failure lists (``<queue>_failed``, named in
``failed_queues``) beside the ``failed`` list; oldest-first listing."""

from __future__ import annotations

import json

import pytest
import redis
from cli_testkit import RunCli, fail_job

from resque_proto import Resque
from resque_proto.records import failure_id


def ruby_record(queue: str, n: int, retried: bool = False) -> str:
    """A record as Ruby's RedisMultiQueue#save writes it (and #requeue marks it)."""
    body = {
        "failed_at": "2026/11/27 18:47:43 UTC", "payload": {"class": "Archive", "args": [n]},
        "exception": "ArchiveError", "error": f"cannot archive repo {n}",
        "backtrace": ["resque_roundtrip.rb:90:in `perform'"], "worker": f"vm:3887:{queue}",
        "queue": queue,
    }  # fmt: skip
    if retried:
        body["retried_at"] = "2026/11/27 18:47:50"
    return json.dumps(body, separators=(",", ":"))


def ruby_multi_queue_fail(client: redis.Redis, *records: str) -> list[str]:
    """SADD failed_queues <queue>_failed, RPUSH <queue>_failed <record>; the records' ids."""
    for record in records:
        name = json.loads(record)["queue"] + "_failed"
        client.sadd("resque:failed_queues", name)
        client.rpush(f"resque:{name}", record)
    return [failure_id(record) for record in records]


@pytest.fixture
def mixed(resque: Resque, redis_client: redis.Redis) -> dict[str, list[str]]:
    """Ours in ``failed`` (low, high); Ruby's in ``low_failed`` (one retried) and
    ``high_failed``."""
    return {
        "failed": [fail_job(resque, "low", "Archive", [1]), fail_job(resque, "high", "Clean", [2])],
        "low_failed": ruby_multi_queue_fail(
            redis_client, ruby_record("low", 3), ruby_record("low", 4, retried=True)
        ),
        "high_failed": ruby_multi_queue_fail(redis_client, ruby_record("high", 5)),
    }


def test_failed_lists_every_failure_list(cli: RunCli, mixed: dict[str, list[str]]) -> None:
    document = cli("failed", "--json").json()
    assert (document["total"], document["matching"]) == (5, 5)
    oldest = [*mixed["failed"], *mixed["high_failed"], *mixed["low_failed"]]
    assert [f["id"] for f in document["failures"]] == oldest[::-1]
    assert [f["list"] for f in document["failures"]][:3] == ["low_failed"] * 2 + ["high_failed"]
    assert document["failures"][0]["retried_at"] == "2026/11/27 18:47:50"

    first = cli("failed", "--oldest-first", "--limit", "2", "--json").json()
    assert [f["id"] for f in first["failures"]] == oldest[:2]
    on_low = cli("failed", "--queue", "low", "--oldest-first", "--json").json()
    assert [f["id"] for f in on_low["failures"]] == [mixed["failed"][0], *mixed["low_failed"]]
    assert cli("failed").lines[-1] == "5 of 5 matching records shown (5 in total)."


def test_retry_all_of_a_queue_covers_both_layouts_and_skips_retried(
    cli: RunCli, resque: Resque, mixed: dict[str, list[str]]
) -> None:
    run = cli("retry", "--all", "--queue", "low", "--json").json()
    assert run == {
        "matched": 3, "retried": 2, "gone": 0, "skipped_already_retried": 1,
        "skipped_unretryable": 0,
    }  # fmt: skip
    assert sorted(job.args[0] for job in resque.queues.peek("low", 0, 10)) == [1, 3]
    assert resque.queues.size("high") == 0
    assert resque.failures.for_queue("low").page(0, 1)[0].retried_at  # marked in place
    again = cli("retry", "--all", "--queue", "low")
    assert again.stdout == "Retried 0 of 3 matching records; skipped 3 already retried.\n"
    assert resque.queues.size("low") == 2


def test_retry_and_remove_by_id_in_a_multi_queue_list(
    cli: RunCli, resque: Resque, mixed: dict[str, list[str]]
) -> None:
    assert cli("retry", mixed["high_failed"][0]).code == 0
    assert [job.args for job in resque.queues.peek("high")] == [[5]]
    assert cli("remove-failed", mixed["low_failed"][0]).code == 0
    assert resque.failures.for_queue("low").count() == 1
    assert resque.failures.count() == 2


def test_remove_all_of_a_queue_and_of_everything(
    cli: RunCli, resque: Resque, mixed: dict[str, list[str]]
) -> None:
    on_low = cli("remove-failed", "--all", "--queue", "low", "--json").json()
    assert on_low == {"matched": 3, "removed": 3, "gone": 0}
    assert [failure_id(f.raw) for f in resque.failures.all()] == [mixed["failed"][1]]
    assert resque.failures.failure_queues() == {"high_failed": 1, "low_failed": 0}
    everything = cli("remove-failed", "--all", "--json").json()
    assert everything == {"matched": 2, "removed": 2, "gone": 0}
    assert cli("failed", "--json").json()["total"] == 0
