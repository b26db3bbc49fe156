"""Every part reads the same REDIS_* settings, and refuses a bad one with one line.

Parsing itself is tested in shared/resque_proto/tests/test_redis_config.py; here,
each part's configuration (worker, scheduler, enqueuer, frontend, CLI) and its
start-up behaviour as a process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from ha_support import clean_environment, run_part

from redis_runner.ha import ConfiguredRedis
from resque_enqueuer.config import Config as EnqueuerConfig
from resque_enqueuer.envvars import ConfigError as EnqueuerConfigError
from resque_frontend.config import Settings as FrontendSettings
from resque_proto.redis_config import RedisConfigError
from resque_scheduler.config import ConfigError as SchedulerConfigError
from resque_scheduler.config import load as load_scheduler
from resque_worker.config import ConfigError as WorkerConfigError
from resque_worker.config import load as load_worker

SECRET = "part-Secret-31"
SENTINELS = {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2", "REDIS_SENTINEL_MASTER": "mymaster",
             "REDIS_PASSWORD": SECRET}  # fmt: skip
PARTS = ("worker", "scheduler", "enqueuer", "frontend")


def redis_of(part: str, env: dict[str, str], argv: list[str] | None = None) -> object:
    """The part's RedisSettings, read as the part reads them."""
    if part == "worker":
        return load_worker(argv or [], {"QUEUES": "q", **env}).redis
    if part == "scheduler":
        return load_scheduler(argv or [], env).redis
    if part == "enqueuer":
        return EnqueuerConfig.from_env(env).redis
    return FrontendSettings.from_env(env).redis


@pytest.mark.parametrize("part", PARTS)
def test_each_part_reads_the_same_settings(part: str, tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text(f"rediss://app:{SECRET}@cache:6380/2\n")
    from_file = redis_of(part, {"REDIS_URL_FILE": str(url_file)})
    assert (from_file.scheme, from_file.host, from_file.db, from_file.password) == (  # type: ignore[attr-defined]
        "rediss", "cache", 2, SECRET)  # fmt: skip
    sentinel = redis_of(part, SENTINELS)
    assert sentinel.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))  # type: ignore[attr-defined]
    assert sentinel.master == "mymaster" and sentinel.password == SECRET  # type: ignore[attr-defined]


@pytest.mark.parametrize("part", ["worker", "scheduler"])
def test_a_command_line_url_wins(part: str) -> None:
    found = redis_of(part, {"REDIS_URL": "redis://env:1/0"}, ["--redis-url", "redis://flag:2/3"])
    assert (found.host, found.port, found.db) == ("flag", 2, 3)  # type: ignore[attr-defined]


def test_each_part_raises_its_own_configuration_error() -> None:
    env = {"REDIS_URL": "redis://h", "REDIS_URL_FILE": "/nowhere"}
    errors = {
        "worker": WorkerConfigError, "scheduler": SchedulerConfigError,
        "enqueuer": EnqueuerConfigError, "frontend": RedisConfigError,
    }  # fmt: skip
    for part, error in errors.items():
        with pytest.raises(error, match="set REDIS_URL or REDIS_URL_FILE, not both"):
            redis_of(part, env)


BAD = [
    ({"REDIS_URL": "memcached://h"}, "unknown scheme memcached://"),
    ({"REDIS_URL": "redis://h", "REDIS_URL_FILE": "/nowhere"}, "not both"),
    ({"REDIS_URL_FILE": "/nowhere/url"}, "REDIS_URL_FILE: cannot read /nowhere/url"),
    ({"REDIS_PASSWORD_FILE": "/nowhere/pw"}, "REDIS_PASSWORD_FILE: cannot read"),
    ({"REDIS_SENTINELS": "s1:26379"}, "REDIS_SENTINEL_MASTER is not"),
    ({"REDIS_URL": "redis+sentinel://s1,s2"}, "names no master"),
    ({"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": "/nowhere/ca.pem"}, "REDIS_TLS_CA_FILE"),
    ({"REDIS_URL": f"redis://u:{SECRET}@h:port/0"}, "redis://u:***@h:port/0"),
]


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize(("env", "fragment"), BAD)
def test_a_bad_setting_is_one_line_and_exit_2(
    part: str, env: dict[str, str], fragment: str
) -> None:
    result = run_part(part, {"QUEUES": "q", **env})
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"resque-{part}: "), result.stderr
    assert fragment in lines[0]
    assert SECRET not in result.stderr + result.stdout


def resque_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("resque")
    return subprocess.run([str(script), *args], env=clean_environment(**env),
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_cli_reads_the_same_settings(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text(SECRET + "\n")
    with ConfiguredRedis(password=SECRET) as server:
        redis.Redis(port=server.port, password=SECRET).sadd("resque:queues", "from-file")
        url = tmp_path / "url"
        url.write_text(server.url)
        result = resque_cli("queues", "--json", REDIS_URL_FILE=str(url),
                            REDIS_PASSWORD_FILE=str(password))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "from-file" in result.stdout


@pytest.mark.parametrize(("env", "fragment"), BAD)
def test_the_cli_refuses_a_bad_setting_with_one_line(env: dict[str, str], fragment: str) -> None:
    result = resque_cli("stats", **env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("resque: cannot use Redis"), result.stderr
    assert fragment in lines[0] and SECRET not in result.stderr
