"""``resque queues``, ``queue``, ``pause`` and ``resume`` through the console script."""

from __future__ import annotations

import json

import redis
from cli_testkit import RunCli, assert_cli_error

from resque_proto import Resque


def test_queues_table_and_json_sorted_with_pauses(cli: RunCli, resque: Resque) -> None:
    resque.enqueue("low", "Clean")
    for n in range(3):
        resque.enqueue("file_serve", "Archive", n)
    resque.queues.pause("low")

    table = cli("queues")
    assert table.code == 0, table.stderr
    assert [line.split() for line in table.lines] == [
        ["QUEUE", "SIZE", "PAUSED"],
        ["file_serve", "3", "no"],
        ["low", "1", "yes"],
    ]
    expected = {
        "queues": [
            {"name": "file_serve", "size": 3, "paused": False},
            {"name": "low", "size": 1, "paused": True},
        ]
    }
    assert cli("queues", "--json").json() == expected
    assert cli("--json", "queues").json() == expected


def test_queues_when_there_are_none(cli: RunCli) -> None:
    assert cli("queues").stdout == "No queues.\n"
    assert cli("queues", "--json").json() == {"queues": []}


def test_queue_peeks_at_the_head(cli: RunCli, resque: Resque) -> None:
    payloads = [resque.enqueue("file_serve", "Archive", n, "branch") for n in range(4)]
    document = cli("queue", "file_serve", "--peek", "2", "--json").json()
    assert (document["name"], document["size"], document["paused"]) == ("file_serve", 4, False)
    assert [job["payload"] for job in document["jobs"]] == payloads[:2]
    first = document["jobs"][0]
    assert (first["index"], first["class"], first["args"]) == (0, "Archive", [0, "branch"])
    assert first["id"] == json.loads(payloads[0])["id"]

    table = cli("queue", "file_serve", "--peek", "1")
    assert table.lines[0] == "Queue file_serve: 4 jobs, not paused."
    assert table.lines[2].split()[:3] == ["#", "CLASS", "ARGS"]
    assert table.lines[3].split()[:4] == [
        "0",
        "Archive",
        '[0,"branch"]',
        json.loads(payloads[0])["id"],
    ]
    assert len(table.lines) == 4


def test_queue_shows_unreadable_payloads_without_failing(
    cli: RunCli, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue("mixed", "Archive", 1)
    redis_client.rpush("resque:queue:mixed", b"\xff not json")
    jobs = cli("queue", "mixed", "--json").json()["jobs"]
    assert jobs[1]["class"] is None and "not valid JSON" in jobs[1]["error"]
    assert jobs[1]["payload"] == "\udcff not json"  # the byte survives as an escape
    assert "(unreadable)" in cli("queue", "mixed").stdout


def test_queue_errors(cli: RunCli) -> None:
    assert_cli_error(cli("queue", "nope"), "no queue named 'nope'")
    assert_cli_error(cli("queue", ".bad", "--json"), "queue:", "not a valid queue name")
    usage = cli("queue", "q", "--peek", "many")
    assert usage.code == 2 and "Traceback" not in usage.stderr


def test_pause_and_resume(cli: RunCli, resque: Resque, redis_client: redis.Redis) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    paused = cli("pause", "file_serve")
    assert paused.stdout == "Paused queue file_serve: workers take no jobs from it.\n"
    assert redis_client.get("resque:pause:queue:file_serve") == b"true"
    assert resque.jobs.reserve("host:1:file_serve", ["file_serve"]) is None

    assert cli("resume", "file_serve", "--json").json() == {"queue": "file_serve", "paused": False}
    assert not redis_client.exists("resque:pause:queue:file_serve")
    assert cli("--json", "pause", "later").json() == {"queue": "later", "paused": True}
    assert cli("resume", "later").stdout == ("Resumed queue later: workers take its jobs again.\n")


def test_pause_refuses_an_invalid_queue_name(cli: RunCli, redis_client: redis.Redis) -> None:
    assert_cli_error(cli("pause", "no spaces"), "not a valid queue name")
    assert_cli_error(cli("resume", "a/b"), "not a valid queue name")
    assert redis_client.keys("*") == []


def test_namespace_from_the_environment_and_the_option(
    cli: RunCli, redis_client: redis.Redis
) -> None:
    assert cli("enqueue", "q", "Archive", RESQUE_NAMESPACE="other").code == 0
    assert redis_client.llen("other:queue:q") == 1
    assert cli("queues", "--json").json() == {"queues": []}
    assert cli("queues", "--json", RESQUE_NAMESPACE="other").json()["queues"][0]["name"] == "q"
    assert cli("--namespace", "other", "queue", "q", "--json").json()["size"] == 1
