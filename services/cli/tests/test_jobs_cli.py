"""``resque enqueue`` (now, ``--in``, ``--at``) and ``resque delayed``."""

from __future__ import annotations

import json
import time

import pytest
import redis
from cli_testkit import RunCli, assert_cli_error

from resque_proto import Resque


def test_enqueue_reads_each_argument_as_json_or_else_a_string(
    cli: RunCli, redis_client: redis.Redis
) -> None:
    args = ("44", "masterbrew", '{"a":[1,2.5]}', "true", "null", '"7"', "NaN", "-5")
    document = cli("enqueue", "--json", "file_serve", "Archive", "--", *args).json()
    expected = [44, "masterbrew", {"a": [1, 2.5]}, True, None, "7", "NaN", -5]
    assert (document["queue"], document["class"], document["args"]) == (
        "file_serve", "Archive", expected
    )  # fmt: skip
    assert document["scheduled_for"] is None
    stored = redis_client.lrange("resque:queue:file_serve", 0, -1)
    assert stored == [document["payload"].encode()]
    body = json.loads(stored[0])
    assert body["args"] == expected and body["id"] == document["id"]
    assert b"file_serve" in redis_client.smembers("resque:queues")


def test_enqueue_prints_the_job_id_and_payload(cli: RunCli, resque: Resque) -> None:
    run = cli("enqueue", "low", "Clean")
    assert run.code == 0, run.stderr
    payload = resque.queues.peek("low")[0].raw
    job_id = json.loads(payload)["id"]
    assert run.lines == [f"Enqueued job {job_id} on queue low", f"payload: {payload}"]


def test_enqueue_in_and_at_schedule_delayed_jobs(cli: RunCli, resque: Resque) -> None:
    before = time.time()
    later = cli("--json", "enqueue", "file_serve", "Archive", "1", "--in", "300").json()
    assert before + 300 <= later["scheduled_for"] <= time.time() + 301
    assert resque.delayed.scheduled_at(later["payload"]) == [later["scheduled_for"]]
    assert json.loads(later["payload"])["queue"] == "file_serve"

    at = cli("enqueue", "low", "Clean", "--at", "2030-01-01T10:00:00+01:00")
    assert at.code == 0, at.stderr
    assert at.lines[0].endswith("for queue low at 2030-01-01T09:00:00Z (1893488400)")
    assert resque.delayed.size_at(1893488400) == 1
    assert resque.queues.names() == []

    past = cli("enqueue", "low", "Clean", "--at", "2001-01-01T00:00:00Z", "--json").json()
    assert past["scheduled_for"] is None and resque.queues.size("low") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("enqueue", "bad queue", "Archive"), "not a valid queue name"),
        (("enqueue", "q", "not-a-class"), "class:"),
        (("enqueue", "q", "Archive", "1e999"), "args[0]: inf is not representable"),
        (("enqueue", "q", "Archive", "--in", "5", "--at", "2030-01-01T00:00:00Z"), "not both"),
        (("enqueue", "q", "Archive", "--in", "nan"), "--in: nan"),
        (("enqueue", "q", "Archive", "--in", "-1"), "--in: -1.0"),
        (("enqueue", "q", "Archive", "--at", "tomorrow"), "not an RFC 3339 time"),
        (("enqueue", "q", "Archive", "--at", "2030-01-01T00:00:00"), "no UTC offset"),
    ],
)
def test_enqueue_refuses_bad_input(
    cli: RunCli, redis_client: redis.Redis, args: tuple[str, ...], message: str
) -> None:
    assert_cli_error(cli(*args), message)
    assert redis_client.keys("*") == []


def test_enqueue_usage_errors_come_from_click(cli: RunCli) -> None:
    run = cli("enqueue", "q")
    assert run.code == 2 and "Missing argument 'CLASS'" in run.stderr
    assert "Traceback" not in run.stderr


def test_delayed_lists_timestamps_soonest_first(cli: RunCli, resque: Resque) -> None:
    resque.enqueue_at(1893488400, "low", "Clean", 1)
    resque.enqueue_at(1893488400, "low", "Clean", 2)
    resque.enqueue_at(1893488460, "low", "Clean", 3)
    resque.enqueue_at(1893488520, "low", "Clean", 4)

    document = cli("delayed", "--json").json()
    assert document == {
        "total_jobs": 4,
        "total_timestamps": 3,
        "timestamps": [
            {"timestamp": 1893488400, "due_at": "2030-01-01T09:00:00Z", "jobs": 2},
            {"timestamp": 1893488460, "due_at": "2030-01-01T09:01:00Z", "jobs": 1},
            {"timestamp": 1893488520, "due_at": "2030-01-01T09:02:00Z", "jobs": 1},
        ],
    }
    table = cli("delayed", "--limit", "2")
    assert [line.split() for line in table.lines] == [
        ["DUE_AT", "TIMESTAMP", "JOBS"],
        ["2030-01-01T09:00:00Z", "1893488400", "2"],
        ["2030-01-01T09:01:00Z", "1893488460", "1"],
        [],
        ["4", "delayed", "jobs", "at", "3", "timestamps", "(first", "2", "shown)."],
    ]


def test_delayed_when_empty_and_with_a_bad_limit(cli: RunCli) -> None:
    assert cli("delayed").stdout == "No delayed jobs.\n"
    assert cli("--json", "delayed").json() == {
        "total_jobs": 0, "total_timestamps": 0, "timestamps": []
    }  # fmt: skip
    assert cli("delayed", "--limit", "0").code == 2
