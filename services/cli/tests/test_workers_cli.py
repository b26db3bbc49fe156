"""``resque workers``, ``prune`` and ``stats``: our workers and a Ruby one, live and dead."""

from __future__ import annotations

import re
import time

import pytest
import redis
from cli_testkit import RunCli, fail_job

from resque_proto import Resque, timefmt
from resque_proto.workers import server_time

LIVE = "host:12:low,high"
DEAD = "host:11:file_serve"
# A Ruby Resque 3.0 worker as it leaves Redis (see services/frontend/tests/frontend_testkit.py).
RUBY = "vm:3887:file_serve"
RUBY_WORKING = (
    '{"queue":"file_serve","run_at":"2026-11-27T18:47:43Z",'
    '"payload":{"class":"SlowArchive","args":[3.0]}}'
)
RUBY_SILENT_FOR = 3 * 86400
PRUNE_AFTER = 5  # seconds: LIVE beats just before each prune, so it never looks dead


@pytest.fixture
def workers(resque: Resque, redis_client: redis.Redis) -> None:
    """A live idle worker of ours, a dead busy one of ours and a dead busy Ruby one
    (silent for days, far beyond Ruby's 300 s)."""
    resque.workers.register(LIVE)
    resque.workers.register(DEAD)
    resque.enqueue("file_serve", "Archive", 44)
    assert resque.jobs.reserve(DEAD, ["file_serve"]) is not None
    long_ago = server_time(redis_client) - 600
    redis_client.hset(resque.keys.our_heartbeats, DEAD, repr(long_ago))
    redis_client.hset(resque.keys.heartbeats, DEAD, timefmt.heartbeat(long_ago))
    redis_client.sadd(resque.keys.workers, RUBY)
    redis_client.set(resque.keys.worker(RUBY), RUBY_WORKING)
    ruby_beat = timefmt.heartbeat(server_time(redis_client) - RUBY_SILENT_FOR)
    redis_client.hset(resque.keys.heartbeats, RUBY, ruby_beat)


def wait_for_uptime(client: redis.Redis, seconds: float) -> None:
    """The pruner judges no heartbeat while Redis has been up for less than --prune-after."""
    deadline = time.monotonic() + seconds + 5
    while int(client.info("server")["uptime_in_seconds"]) < seconds:
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.usefixtures("workers")
def test_workers_table_and_json(cli: RunCli) -> None:
    document = cli("workers", "--json").json()
    by_id = {w["id"]: w for w in document["workers"]}
    assert sorted(by_id) == [DEAD, LIVE, RUBY]
    live, dead, ruby = by_id[LIVE], by_id[DEAD], by_id[RUBY]
    assert (live["host"], live["pid"], live["queues"]) == ("host", 12, ["low", "high"])
    assert (live["state"], live["job"], live["stale"], live["ours"]) == ("idle", None, False, True)
    assert 0 <= live["heartbeat_age"] <= 5
    assert dead["state"] == "busy" and dead["stale"] is True
    assert dead["job"]["queue"] == "file_serve" and dead["job"]["class"] == "Archive"
    assert dead["job"]["args"] == [44] and 595 <= dead["heartbeat_age"] <= 610
    assert ruby["job"] == {
        "queue": "file_serve", "class": "SlowArchive", "args": [3.0],
        "run_at": "2026-11-27T18:47:43Z",
    }  # fmt: skip
    assert (ruby["ours"], ruby["stale"]) == (False, True)
    assert RUBY_SILENT_FOR <= ruby["heartbeat_age"] <= RUBY_SILENT_FOR + 10

    table = cli("workers")
    assert table.lines[0].split() == ["ID", "HOST", "PID", "QUEUES", "STATE", "JOB", "HEARTBEAT"]
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in table.lines[1:])}
    assert rows[LIVE][1:6] == ["host", "12", "low,high", "idle", "-"]
    assert re.fullmatch(r"\ds ago", rows[LIVE][6])
    assert rows[DEAD][1:6] == ["host", "11", "file_serve", "busy", "Archive on file_serve"]
    assert re.fullmatch(r"10m 0\ds ago \(stale\)", rows[DEAD][6])
    assert rows[RUBY][5:] == ["SlowArchive on file_serve", "3d 00h ago (stale)"]


@pytest.mark.usefixtures("workers")
def test_workers_stale_shows_only_what_the_pruner_would_take(cli: RunCli) -> None:
    stale = cli("workers", "--stale", "--json").json()["workers"]
    assert [w["id"] for w in stale] == [DEAD, RUBY]
    assert [line.split()[0] for line in cli("workers", "--stale").lines[1:]] == [DEAD, RUBY]
    older_threshold = cli("--json", "workers", "--stale", "--prune-after", "900").json()
    assert [w["id"] for w in older_threshold["workers"]] == [RUBY]
    from_env = cli("workers", "--stale", "--json", RESQUE_PRUNE_AFTER="900").json()
    assert [w["id"] for w in from_env["workers"]] == [RUBY]


def test_workers_when_there_are_none(cli: RunCli) -> None:
    assert cli("workers").stdout == "No workers.\n"
    assert cli("workers", "--stale", "--json").json() == {"workers": []}


@pytest.mark.usefixtures("workers")
def test_prune_recovers_dead_workers_jobs(
    cli: RunCli, resque: Resque, redis_client: redis.Redis
) -> None:
    wait_for_uptime(redis_client, PRUNE_AFTER)
    resque.workers.heartbeat(LIVE)
    document = cli("prune", "--prune-after", str(PRUNE_AFTER), "--json").json()
    assert document["skipped"] is None
    assert (document["requeued"], document["failed"]) == (1, 1)
    by_worker = {w["worker"]: w for w in document["workers"]}
    assert sorted(by_worker) == [DEAD, RUBY]
    assert [job["queue"] for job in by_worker[DEAD]["requeued"]] == ["file_serve"]
    assert by_worker[RUBY]["failed"] == [
        {"queue": "file_serve", "payload": '{"class":"SlowArchive","args":[3.0]}'}
    ]
    assert resque.workers.ids() == [LIVE]
    assert [job.args for job in resque.queues.peek("file_serve")] == [[44]]
    assert resque.failures.all()[0].exception == "Resque::PruneDeadWorkerDirtyExit"

    redis_client.delete(resque.keys.prune_lock)
    resque.workers.heartbeat(LIVE)
    assert cli("prune", "--prune-after", str(PRUNE_AFTER)).stdout == "No dead workers.\n"


@pytest.mark.usefixtures("workers")
def test_prune_table(cli: RunCli, resque: Resque, redis_client: redis.Redis) -> None:
    wait_for_uptime(redis_client, PRUNE_AFTER)
    resque.workers.heartbeat(LIVE)
    table = cli("prune", "--prune-after", str(PRUNE_AFTER))
    assert table.code == 0, table.stderr
    assert [line.split() for line in table.lines] == [
        ["WORKER", "REQUEUED", "FAILED"],
        [DEAD, "1", "0"],
        [RUBY, "0", "1"],
        [],
        ["Pruned", "2", "dead", "workers:", "1", "job", "requeued,", "1", "failed."],
    ]


@pytest.mark.usefixtures("workers")
def test_prune_says_why_it_did_not_run(
    cli: RunCli, resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.set(resque.keys.prune_lock, "host:99:low", ex=60)
    locked = cli("prune", "--json").json()
    assert "another pruner (host:99:low)" in locked["skipped"] and locked["workers"] == []
    redis_client.delete(resque.keys.prune_lock)
    young = cli("prune", "--prune-after", "1000000")
    assert young.code == 0
    assert young.stdout.startswith("Did not prune: Redis has been up for only ")
    assert sorted(resque.workers.ids()) == [DEAD, LIVE, RUBY]


def test_stats(cli: RunCli, resque: Resque, redis_client: redis.Redis) -> None:
    redis_client.set(resque.keys.stat("processed"), 22)
    fail_job(resque, "low", "Clean")  # counts 1 processed, 1 failed
    resque.enqueue("file_serve", "Archive", 1)
    resque.enqueue("file_serve", "Archive", 2)
    resque.enqueue_in(600, "low", "Clean")
    resque.workers.register(LIVE)
    resque.workers.register(DEAD)
    assert resque.jobs.reserve(DEAD, ["file_serve"]) is not None

    assert cli("stats", "--json").json() == {
        "processed": 23,
        "failed": 1,
        "queues": 2,
        "workers": 2,
        "working": 1,
        "pending": 1,
        "delayed": 1,
        "failed_records": 1,
    }
    assert cli("--json", "stats").json()["processed"] == 23
    assert cli("stats").lines == [
        "STAT            VALUE",
        "processed       23",
        "failed          1",
        "queues          2",
        "workers         2",
        "working         1",
        "pending         1",
        "delayed jobs    1",
        "failed records  1",
    ]
