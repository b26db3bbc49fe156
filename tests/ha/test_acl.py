"""Least-privilege ACL users (docs/redis.md): the documented rules run every part end to
end; a user missing a command gets one clear line and exit 2, not a crash loop.

Credentials come from files here (REDIS_PASSWORD_FILE, REDIS_URL_FILE), as from
Kubernetes secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from ha_support import Parts, run_part, runs, wait_until

from redis_runner.ha import ConfiguredRedis
from resque_proto.permissions import acl_rule

SECRET = "acl-Secret-7f3"
ADMIN = "admin-Secret-19c"
PARTS = ("worker", "scheduler", "enqueuer", "frontend")
# What each strict-<part> user lacks, and what the part says it is needed for (the
# dashboard does without Lua, INFO and TIME: it stops only for a read it needs).
STRICT = {
    "worker": ("EVALSHA", "Lua scripts"),
    "scheduler": ("EVALSHA", "Lua scripts"),
    "enqueuer": ("EVALSHA", "Lua scripts"),
    "frontend": ("LRANGE", "showing queues, jobs, failures, workers and schedules"),
}
FRONTEND_PAGES = (
    "/", "/working", "/queues", "/queues/ha", "/workers", "/failed", "/delayed", "/schedule",
    "/jobs", "/stats", "/stats/keys", "/stats/keys/resque:queues", "/metrics", "/readyz",
)  # fmt: skip


def without(rule: str, *commands: str) -> str:
    for command in commands:
        rule = rule.replace(f" +{command}", "")
    return rule


@pytest.fixture(scope="module")
def server() -> Iterator[ConfiguredRedis]:
    lines = [f"user default on >{ADMIN} ~* &* +@all"]
    for part in PARTS:
        lines.append(acl_rule(part, user=f"resque-{part}", password=SECRET))
        strict = acl_rule(part, user=f"strict-{part}", password=SECRET)
        lines.append(without(strict, STRICT[part][0].lower()))
    lines.append(without(acl_rule("worker", user="noconfig", password=SECRET),
                         "config|get", "config|set"))  # fmt: skip
    lines.append(acl_rule("frontend-read-only", user="resque-viewer", password=SECRET))
    with ConfiguredRedis(acl=lines) as redis_server:
        yield redis_server


@pytest.fixture
def admin(server: ConfiguredRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=server.port, password=ADMIN)
    client.flushall()
    client.acl_log_reset()
    yield client
    client.close()


def env_for(server: ConfiguredRedis, user: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's settings, password and URL read from files."""
    password = tmp_path / f"{user}.password"
    password.write_text(SECRET + "\n")
    url = tmp_path / f"{user}.url"
    url.write_text(f"redis://{user}@127.0.0.1:{server.port}/0\n")
    return {"REDIS_URL_FILE": str(url), "REDIS_PASSWORD_FILE": str(password), "QUEUES": "ha",
            "RESQUE_JOBS": "ha_jobs", "HA_RUNS_FILE": str(tmp_path / "runs"), **extra}  # fmt: skip


def test_the_documented_rules_run_every_part(
    server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    enqueuer = parts.start("enqueuer", env_for(server, "resque-enqueuer", tmp_path,
                                               ENQUEUER_MIN_REPLICAS="0"))  # fmt: skip
    scheduler = parts.start("scheduler", env_for(server, "resque-scheduler", tmp_path))
    worker = parts.start("worker", env_for(server, "resque-worker", tmp_path,
                                           RESQUE_HEARTBEAT_INTERVAL="1"))  # fmt: skip
    frontend = parts.start("frontend", env_for(server, "resque-frontend", tmp_path))

    def post(path: str, document: object, **headers: str) -> requests.Response:
        response = requests.post(enqueuer.url + path, json=document, headers=headers, timeout=10)
        assert response.status_code == 202, response.text
        return response

    job = post("/jobs", {"queue": "ha", "class": "Record", "args": ["plain"]}).json()
    post("/jobs", {"queue": "ha", "class": "Record", "args": ["keyed"]}, **{"Idempotency-Key": "k"})
    post("/jobs/batch", {"jobs": [
        {"queue": "ha", "class": "Record", "args": ["batch"]},
        {"queue": "ha", "class": "Boom", "args": ["boom"]},
        {"queue": "ha", "class": "Flaky", "args": ["flaky"]},
        {"queue": "ha", "class": "Record", "args": ["later"], "delay_seconds": 1},
    ]})  # fmt: skip
    wanted = {"plain", "keyed", "batch", "later", "flaky"}
    wait_until(lambda: {t for t, _, _ in runs(tmp_path / "runs")} >= wanted, 30,
               "the jobs to run (the retry and the delayed one via the scheduler)")  # fmt: skip
    wait_until(lambda: admin.llen("resque:failed") == 1, 10, "Boom's failure record")
    status = requests.get(f"{enqueuer.url}/jobs/{job['id']}", timeout=10).json()
    assert status["state"] == "succeeded"

    with requests.Session() as browser:
        for path in FRONTEND_PAGES:
            page = browser.get(frontend.url + path, timeout=10)
            assert page.status_code == 200, (path, page.text[:500])
        token = browser.cookies["resque_csrf"]
        for action in ("/workers/pause", "/workers/resume", "/failed/clear"):
            done = browser.post(frontend.url + action, data={"csrf_token": token,
                                "confirm": "yes"}, timeout=10, allow_redirects=False)  # fmt: skip
            assert done.status_code == 303, (action, done.text[:500])

    for part in (worker, scheduler, enqueuer, frontend):
        assert part.stop() == 0, part.log()
        assert SECRET not in part.log()
    refused = [(entry["username"], entry["object"]) for entry in admin.acl_log()]
    assert refused == []  # not one command, key or channel was refused


def test_a_read_only_dashboard_needs_only_the_read_only_rule(
    server: ConfiguredRedis, admin: redis.Redis, parts: Parts, tmp_path: Path
) -> None:
    admin.rpush("resque:queue:ha", '{"class":"Record","args":["waiting"]}')
    admin.sadd("resque:queues", "ha")
    viewer = parts.start("frontend", env_for(server, "resque-viewer", tmp_path,
                                             FRONTEND_READ_ONLY="true"))  # fmt: skip
    for path in FRONTEND_PAGES:
        assert requests.get(viewer.url + path, timeout=10).status_code == 200, path
    assert admin.acl_log() == []


@pytest.mark.parametrize("part", PARTS)
def test_a_missing_command_stops_the_part_with_one_line(
    part: str, server: ConfiguredRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    result = run_part(part, env_for(server, f"strict-{part}", tmp_path))
    command, purpose = STRICT[part]
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stderr.strip().splitlines() == [
        f"resque-{part}: Redis user strict-{part} may not run {command} (needed for "
        f"{purpose}); see docs/redis.md for the ACL rules"
    ]
    assert admin.dbsize() == 0  # the check wrote nothing


def test_config_is_optional_the_worker_polls_instead(
    server: ConfiguredRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    admin.rpush("resque:queue:ha", '{"class":"Record","args":["polled"]}')
    admin.sadd("resque:queues", "ha")
    result = run_part("worker", env_for(server, "noconfig", tmp_path), "--burst")
    assert result.returncode == 0, result.stderr
    assert [t for t, _, _ in runs(tmp_path / "runs")] == ["polled"]


def test_a_wrong_password_is_a_startup_error_that_does_not_show_it(
    server: ConfiguredRedis, tmp_path: Path
) -> None:
    for part in PARTS:
        env = env_for(server, f"resque-{part}", tmp_path)
        env.pop("REDIS_PASSWORD_FILE")
        result = run_part(part, {**env, "REDIS_PASSWORD": "not-the-Secret-42"})
        assert result.returncode == 2, (part, result.stderr)
        assert f"refused the credentials of user resque-{part}" in result.stderr
        assert "not-the-Secret-42" not in result.stderr + result.stdout
