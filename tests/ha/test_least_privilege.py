"""Least-privilege ACLs short of the documented rules (docs/redis.md): the worker and the
dashboard do without INFO, TIME and PING, say so once, and still do their work.

Users: Redis's own example ``+@all -@dangerous`` (INFO refused), the documented
worker rule without ``+info``, ``+@read`` for the dashboard, and stricter ones
that must stop the part at start with one line naming the missing command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from ha_support import Parts, run_part, runs, wait_until

from redis_runner.ha import ConfiguredRedis
from resque_proto import Resque
from resque_proto.connection import connect
from resque_proto.permissions import acl_rule, check_permissions
from resque_proto.prune import RedisUptime
from resque_proto.redis_config import RedisSettings

SECRET = "lp-Secret-5d1"
ADMIN = "admin-Secret-8e2"
NO_DANGER = "+@all -@dangerous"
PAGES = (
    "/", "/working", "/queues", "/queues/ha", "/workers", "/failed", "/schedule", "/jobs",
    "/stats", "/stats/keys", "/stats/keys/resque:queues", "/metrics", "/readyz",
)  # fmt: skip


def user(name: str, rules: str) -> str:
    return f"user {name} on >{SECRET} resetkeys ~resque:* resetchannels &* {rules}"


@pytest.fixture(scope="module")
def server() -> Iterator[ConfiguredRedis]:
    worker_rule = acl_rule("worker", user="worker-noinfo", password=SECRET)
    lines = [
        f"user default on >{ADMIN} ~* &* +@all",
        user("nodanger", NO_DANGER),
        user("reader", "+@read"),
        user("strict-reader", "+@read -lrange"),
        worker_rule.replace(" +info", ""),
        worker_rule.replace(" +info", "").replace(" +time", "").replace(
            "worker-noinfo", "worker-notime", 1),
    ]  # fmt: skip
    with ConfiguredRedis(acl=lines) as redis_server:
        yield redis_server


@pytest.fixture
def admin(server: ConfiguredRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=server.port, password=ADMIN)
    client.flushall()
    yield client
    client.close()


def env_for(server: ConfiguredRedis, name: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"REDIS_URL": f"redis://127.0.0.1:{server.port}/0", "REDIS_USERNAME": name,
            "REDIS_PASSWORD": SECRET, "QUEUES": "ha", "RESQUE_JOBS": "ha_jobs",
            "HA_RUNS_FILE": str(tmp_path / "runs"), **extra}  # fmt: skip


def dead_worker_holding(admin: redis.Redis, token: str) -> str:
    """A worker of ours that died holding a job: registered, in-flight job, old heartbeat."""
    resque = Resque(admin)
    dead = "gone-host:4242:ha"
    resque.workers.register(dead)
    resque.enqueue("ha", "Record", token, metadata=False)
    assert resque.jobs.reserve(dead, ["ha"]) is not None
    admin.hset(resque.keys.our_heartbeats, dead, repr(time.time() - 3600))
    return dead


@pytest.mark.parametrize("name", ["nodanger", "worker-noinfo"])
def test_pruning_recovers_a_dead_workers_job_without_info(
    name: str, server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    dead = dead_worker_holding(admin, "recovered")
    worker = parts.start("worker", env_for(server, name, tmp_path, RESQUE_PRUNE_AFTER="2",
                                           RESQUE_PRUNE_INTERVAL="0.5",
                                           RESQUE_HEARTBEAT_INTERVAL="0.5"))  # fmt: skip
    wait_until(lambda: [t for t, _, _ in runs(tmp_path / "runs")] == ["recovered"], 30,
               f"the dead worker's job to be recovered and run:\n{worker.log()}")  # fmt: skip
    assert not admin.sismember("resque:workers", dead)
    assert worker.stop() == 0, worker.log()
    log = worker.log()
    assert log.count("Redis user may not run INFO") == 1, log
    assert "Redis unavailable" not in log  # a refused INFO is no outage
    assert f"Redis user {name} may not run INFO (used for Redis's uptime" in log


def test_without_info_the_uptime_is_what_this_process_saw(
    server: ConfiguredRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis(port=server.port, username="nodanger", password=SECRET)
    uptime = RedisUptime(logging.getLogger("test"))
    time.sleep(0.2)
    first = uptime.seconds(client)
    assert first >= 0.2  # counted by this process (INFO was refused)
    uptime.outage()
    assert uptime.seconds(client) < first  # an outage starts the count again
    assert caplog.text.count("Redis user may not run INFO") == 1
    admin_view = RedisUptime(logging.getLogger("test"))
    admin_client = redis.Redis(port=server.port, password=ADMIN)
    assert admin_view.seconds(admin_client) == admin_client.info("server")["uptime_in_seconds"]


def test_a_worker_without_time_stops_at_start_naming_it(
    server: ConfiguredRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    result = run_part("worker", env_for(server, "worker-notime", tmp_path))
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stderr.strip().splitlines() == [
        "resque-worker: Redis user worker-notime may not run TIME (needed for job statuses); "
        "see docs/redis.md for the ACL rules"
    ]


def metric(body: str, command: str) -> str:
    line = f'resque_redis_command_refused{{command="{command}"}} '
    (value,) = [row[len(line) :] for row in body.splitlines() if row.startswith(line)]
    return value


def test_the_dashboard_under_the_no_dangerous_example_acl(
    server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    admin.rpush("resque:queue:ha", '{"class":"Record","args":["waiting"]}')
    admin.sadd("resque:queues", "ha")
    frontend = parts.start("frontend", env_for(server, "nodanger", tmp_path))
    for path in (*PAGES, "/delayed"):
        page = requests.get(frontend.url + path, timeout=10)
        assert page.status_code == 200, (path, page.text[:500])
    stats = requests.get(frontend.url + "/stats", timeout=10).text
    assert "not shown: the Redis user may not run INFO" in stats
    body = requests.get(frontend.url + "/metrics", timeout=10).text
    assert (metric(body, "INFO"), metric(body, "TIME")) == ("1.0", "0.0")
    assert "resque_up 1.0" in body
    assert frontend.stop() == 0
    assert "Redis user nodanger may not run INFO (used for the Redis INFO section" in (
        frontend.log()
    )


@pytest.mark.parametrize("read_only", ["false", "true"])
def test_the_dashboard_under_a_read_user(
    read_only: str, server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    admin.rpush("resque:queue:ha", '{"class":"Record","args":["waiting"]}')
    admin.sadd("resque:queues", "ha")
    frontend = parts.start("frontend", env_for(server, "reader", tmp_path,
                                               FRONTEND_READ_ONLY=read_only))  # fmt: skip
    with requests.Session() as browser:
        for path in PAGES:
            page = browser.get(frontend.url + path, timeout=10)
            assert page.status_code == 200, (path, page.text[:500])
        body = browser.get(frontend.url + "/metrics", timeout=10).text
        assert (metric(body, "INFO"), metric(body, "TIME")) == ("1.0", "1.0")
        done = browser.post(frontend.url + "/queues/ha/pause", timeout=10,
                            data={"csrf_token": browser.cookies["resque_csrf"]})  # fmt: skip
    assert done.status_code in (403, 503), done.text[:500]
    refusal = "read-only" if read_only == "true" else "no permissions to run the"
    assert refusal in done.text, done.text
    assert admin.exists("resque:pause:queue:ha") == 0
    assert frontend.stop() == 0
    log = frontend.log()
    assert "Redis user reader may not run PING" in log  # the start-up warning, once
    for command in ("TIME", "EVALSHA"):  # once per gunicorn worker (2)
        assert 1 <= log.count(f"Redis user may not run {command}:") <= 2, log


def test_the_delayed_page_and_metrics_under_a_read_user(
    server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    """Counting delayed jobs is a Lua read a ``+@read`` user may not run: the page says
    "at least N jobs" and /metrics leaves resque_delayed_jobs out, both still 200."""
    Resque(admin).enqueue_at(int(time.time()) + 3600, "later", "Archive", 44)
    frontend = parts.start("frontend", env_for(server, "reader", tmp_path))
    page = requests.get(frontend.url + "/delayed", timeout=10)
    assert page.status_code == 200 and "at least 1 jobs" in page.text
    metrics = requests.get(frontend.url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "resque_up 1.0" in metrics.text
    assert "resque_delayed_timestamps 1.0" in metrics.text
    assert "\nresque_delayed_jobs " not in metrics.text


def test_a_dashboard_user_without_a_read_it_needs_stops_at_start(
    server: ConfiguredRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    result = run_part("frontend", env_for(server, "strict-reader", tmp_path))
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        "resque-frontend: Redis user strict-reader may not run LRANGE (needed for showing "
        "queues, jobs, failures, workers and schedules); see docs/redis.md for the ACL rules"
    )


def test_the_start_up_check_warns_about_each_fallback(
    server: ConfiguredRedis, admin: redis.Redis
) -> None:
    def check(name: str, part: str) -> str | None:
        settings = RedisSettings.from_env(
            {
                "REDIS_URL": f"redis://127.0.0.1:{server.port}/0",
                "REDIS_USERNAME": name,
                "REDIS_PASSWORD": SECRET,
            }
        )
        return check_permissions(connect(settings), part, part, settings, "resque")  # fmt: skip

    assert check("nodanger", "worker") == (
        "Redis user nodanger may not run INFO (used for Redis's uptime for the dead-worker "
        "pruner, else how long the worker has seen it up); see docs/redis.md for the ACL rules"
    )
    for part in ("scheduler", "enqueuer"):  # Redis's example ACL is enough for them as is
        assert check("nodanger", part) is None, part
    warning = check("reader", "frontend") or ""
    assert warning.startswith(
        "Redis user reader may not run PING, TIME, INFO, DISCARD, WATCH, "
        "UNWATCH, SCRIPT|EXISTS, MULTI (used for readiness, else any answer"
    )
    assert "else this host's" in warning and "else refused" in warning
    assert warning.endswith("without MULTI these were not checked: EVALSHA, SCRIPT|LOAD, HSETNX, "
                            "HDEL, SET, DEL, RPUSH, LPUSH, LPOP, LREM, LSET, SADD, SREM, INCR, "
                            "HSET, HINCRBY, HINCRBYFLOAT, ZADD, ZREM")  # fmt: skip
    assert check("reader", "frontend-read-only") is not None
    assert admin.dbsize() == 0  # the probes changed nothing
