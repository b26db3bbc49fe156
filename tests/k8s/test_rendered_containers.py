"""Run the Redis container's rendered command, config file and readiness probe
against a real redis-server (the same Redis 7.0 as the bookworm image), so a
typo in redis.conf or the shell command fails here rather than in a cluster.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_runner.server import find_redis_server, free_port
from resque_proto import connect

CONFIG_PATH = "/etc/redis/redis.conf"
PASSWORD = "probe-test-password"
MEBIBYTE = 2**20


@dataclass
class RunningRedis:
    client: redis.Redis
    port: int
    memory_limit_mb: int
    env: dict[str, str]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def quantity_mebibytes(quantity: str) -> int:
    """Memory quantity in Mi, rounded up (the Downward API's divisor rounding)."""
    units = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return math.ceil(int(quantity) / MEBIBYTE)


def wait_for_ping(client: redis.Redis, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"redis-server exited with {process.returncode}: {stderr}")
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    pytest.fail("redis-server did not answer within 30 s")


@pytest.fixture(params=["dev", "production"])
def running_redis(
    request: pytest.FixtureRequest, rendered: dict[str, Any], tmp_path: Path
) -> Iterator[RunningRedis]:
    manifest = rendered[request.param]
    container = manifest.container("redis")
    config_map = next(
        manifest.get("ConfigMap", v["configMap"]["name"])
        for v in container.pod_spec["volumes"]
        if "configMap" in v
    )
    # Redis keeps its data on the claim's mount; here, in tmp_path instead.
    data_mount = next(m for m in container.spec["volumeMounts"] if m["name"] == "data")
    config = config_map["data"]["redis.conf"]
    dir_line = f"\ndir {data_mount['mountPath']}\n"
    assert dir_line in config, "redis.conf must keep its data on the persistent volume"
    (tmp_path / "redis.conf").write_text(config.replace(dir_line, f"\ndir {tmp_path}\n"))
    port = free_port()
    # The container's own command, pointed at the local config copy and port.
    script = container.spec["command"][2].replace(CONFIG_PATH, str(tmp_path / "redis.conf"))
    script += f" --port {port} --bind 127.0.0.1"
    limit_mb = quantity_mebibytes(container.spec["resources"]["limits"]["memory"])
    redis_dir = os.path.dirname(find_redis_server())
    env = {
        "PATH": f"{redis_dir}:{os.environ['PATH']}",
        "REDIS_PASSWORD": PASSWORD,
        "REDIS_MEMORY_LIMIT_MB": str(limit_mb),
    }
    process = subprocess.Popen(
        ["sh", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    # The same URL shape the pods' REDIS_URL has, through the project's client.
    client = connect(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    try:
        wait_for_ping(client, process)
        yield RunningRedis(client, port, limit_mb, env)
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def test_redis_runs_with_the_persistence_and_eviction_policy_a_job_store_needs(
    running_redis: RunningRedis,
) -> None:
    config = {text(k): text(v) for k, v in running_redis.client.config_get("*").items()}
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    assert {"K", "l"} <= set(config["notify-keyspace-events"])
    maxmemory = int(config["maxmemory"])
    assert 0 < maxmemory < running_redis.memory_limit_mb * MEBIBYTE
    assert maxmemory == running_redis.memory_limit_mb * 60 // 100 * MEBIBYTE


def test_redis_requires_the_password(running_redis: RunningRedis) -> None:
    anonymous = connect(f"redis://127.0.0.1:{running_redis.port}/0")
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()


def test_readiness_probe_passes_with_the_password_and_fails_without(
    rendered: dict[str, Any], running_redis: RunningRedis
) -> None:
    if shutil.which("redis-cli") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-cli is missing (Debian package redis-tools)")
        pytest.skip("redis-cli is not installed")
    probe = rendered["production"].container("redis").spec["readinessProbe"]["exec"]["command"]
    command = [part.replace("-p 6379", f"-p {running_redis.port}") for part in probe]
    env = {**running_redis.env, "REDISCLI_AUTH": PASSWORD}
    assert (
        subprocess.run(command, env=env, timeout=30, check=False, capture_output=True).returncode
        == 0
    )
    env["REDISCLI_AUTH"] = "wrong-password"
    assert (
        subprocess.run(command, env=env, timeout=30, check=False, capture_output=True).returncode
        != 0
    )
