"""``resque failed``, ``retry`` and ``remove-failed``, addressing records by failure id."""

from __future__ import annotations

import json

import pytest
import redis
from cli_testkit import RunCli, assert_cli_error, fail_job

from resque_proto import Resque
from resque_proto.records import failure_id


@pytest.fixture
def failures(resque: Resque) -> list[str]:
    """Four failure ids, oldest first: Archive on file_serve (2), Clean on low, Archive on low."""
    return [
        fail_job(resque, "file_serve", "Archive", [1], error="disk full"),
        fail_job(resque, "file_serve", "Archive", [2], error="line one\nline two"),
        fail_job(resque, "low", "Clean", [3]),
        fail_job(resque, "low", "Archive", [4]),
    ]


def test_failed_lists_newest_first_with_ids(cli: RunCli, failures: list[str]) -> None:
    document = cli("failed", "--json").json()
    assert (document["total"], document["matching"]) == (4, 4)
    assert [f["id"] for f in document["failures"]] == failures[::-1]
    newest = document["failures"][0]
    assert {k: newest[k] for k in ("index", "queue", "class", "args", "exception", "error")} == {
        "index": 3, "queue": "low", "class": "Archive", "args": [4],
        "exception": "RuntimeError", "error": "boom",
    }  # fmt: skip
    assert newest["failed_at"] and newest["retried_at"] is None
    assert newest["worker"] == "host:1:q" and newest["backtrace"] == ["job.py:1:in `perform'"]

    table = cli("failed")
    header = table.lines[0].split()
    assert header == ["ID", "FAILED_AT", "QUEUE", "CLASS", "EXCEPTION", "ERROR", "RETRIED_AT"]
    assert [line.split()[0] for line in table.lines[1:5]] == failures[::-1]
    assert "line one line two" in table.lines[3]  # one line per record
    assert table.lines[-1] == "4 of 4 matching records shown (4 in total)."


def test_failed_filters_and_limit(cli: RunCli, failures: list[str]) -> None:
    archive = cli("failed", "--class", "Archive", "--json").json()
    assert [f["id"] for f in archive["failures"]] == [failures[3], failures[1], failures[0]]
    on_low = cli("--json", "failed", "--queue", "low", "--class", "Archive").json()
    assert (on_low["matching"], [f["id"] for f in on_low["failures"]]) == (1, [failures[3]])
    limited = cli("failed", "--queue", "file_serve", "--limit", "1")
    assert limited.lines[1].split()[0] == failures[1]
    assert limited.lines[-1] == "1 of 2 matching records shown (4 in total)."
    assert cli("failed", "--queue", "none").stdout == "No matching failure records (4 in total).\n"


def test_failed_refuses_invalid_filters(cli: RunCli) -> None:
    assert_cli_error(cli("failed", "--queue", "a b"), "queue:", "not a valid queue name")
    assert_cli_error(cli("failed", "--class", "9lives"), "class:")


def test_retry_by_id_requeues_the_job_and_keeps_the_record(
    cli: RunCli, resque: Resque, failures: list[str]
) -> None:
    run = cli("retry", failures[2])
    assert run.stdout == "Retried 1 of 1 matching record.\n"
    assert [job.args for job in resque.queues.peek("low")] == [[3]]
    record = resque.failures.get(2)
    assert record is not None and record.retried_at is not None
    assert cli("failed", "--json").json()["total"] == 4
    assert_cli_error(cli("retry", failures[2]), f"no failure record with ID '{failures[2]}'")
    again = cli("retry", failure_id(record.raw), "--json").json()  # explicitly: allowed
    assert again == {
        "matched": 1, "retried": 1, "gone": 0, "skipped_already_retried": 0,
        "skipped_unretryable": 0,
    }  # fmt: skip
    assert resque.queues.size("low") == 2


def test_retry_all_honours_filters_and_skips_retried_records(
    cli: RunCli, resque: Resque, failures: list[str]
) -> None:
    assert cli("retry", failures[0]).code == 0
    archive = cli("retry", "--all", "--class", "Archive", "--json").json()
    assert archive == {
        "matched": 3, "retried": 2, "gone": 0, "skipped_already_retried": 1,
        "skipped_unretryable": 0,
    }  # fmt: skip
    assert [job.args for job in resque.queues.peek("file_serve")] == [[1], [2]]
    assert [job.args for job in resque.queues.peek("low")] == [[4]]

    rest = cli("retry", "--all")
    assert rest.stdout == "Retried 1 of 4 matching records; skipped 3 already retried.\n"
    assert [job.args for job in resque.queues.peek("low")] == [[4], [3]]
    assert all(f.retried_at for f in resque.failures.all())


def test_retry_all_counts_records_it_cannot_retry(
    cli: RunCli, resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.rpush("resque:failed", "not json", json.dumps({"payload": {"class": "A"}}))
    run = cli("retry", "--all")
    assert run.stdout == (
        "Retried 0 of 2 matching records; skipped 2 without a queue or payload.\n"
    )
    unreadable = failure_id("not json")
    assert_cli_error(cli("retry", unreadable), f"{unreadable} has no queue or payload")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("retry",), "give a failure ID"),
        (("retry", "0123456789abcdef"), "no failure record with ID '0123456789abcdef'"),
        (("retry", "x", "--all"), "not both"),
        (("retry", "x", "--queue", "low"), "cannot be used with an ID"),
        (("retry", "--all", "--queue", "bad queue"), "not a valid queue name"),
        (("remove-failed",), "give a failure ID"),
        (("remove-failed", "nope"), "no failure record with ID 'nope'"),
        (("remove-failed", "x", "--all"), "not both"),
        (("remove-failed", "x", "--class", "Archive"), "cannot be used with an ID"),
        (("remove-failed", "--all", "--class", "no-class"), "class:"),
    ],
)
def test_retry_and_remove_refuse_bad_input(
    cli: RunCli, resque: Resque, failures: list[str], args: tuple[str, ...], message: str
) -> None:
    assert_cli_error(cli(*args), message)
    assert all(f.retried_at is None for f in resque.failures.all())
    assert resque.failures.count() == 4


def test_remove_failed_by_id_and_by_filter(
    cli: RunCli, resque: Resque, failures: list[str]
) -> None:
    assert cli("remove-failed", failures[1]).stdout == "Removed 1 of 1 matching record.\n"
    assert [failure_id(f.raw) for f in resque.failures.all()] == [
        failures[0], failures[2], failures[3]
    ]  # fmt: skip
    on_low = cli("remove-failed", "--all", "--queue", "low", "--json").json()
    assert on_low == {"matched": 2, "removed": 2, "gone": 0}
    assert [failure_id(f.raw) for f in resque.failures.all()] == [failures[0]]
    assert resque.queues.sizes() == {"file_serve": 0, "low": 0}  # nothing was retried


def test_remove_failed_all_clears_the_list(
    cli: RunCli, resque: Resque, failures: list[str]
) -> None:
    assert cli("--json", "remove-failed", "--all").json() == {
        "matched": 4, "removed": 4, "gone": 0
    }  # fmt: skip
    assert resque.failures.count() == 0
    assert cli("remove-failed", "--all").stdout == "Removed 0 of 0 matching records.\n"
