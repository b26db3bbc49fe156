"""Run what the rendered pods would run, as local processes: Redis with its
rendered command, config file and readiness probe (the same Redis 7.0 as the
bookworm image), and the worker, enqueuer, frontend and scheduler with exactly
the environment their pods get (ConfigMaps, Secret values, ``$(VAR)`` expansion).
Only what a pod gets from its volumes and network is mapped to local
equivalents: the data dir, mounted files, ports and the Redis host.

A typo in redis.conf, a shell command, a setting a service rejects, or a probe
path that does not exist fails here rather than in a cluster.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml

from redis_runner.server import find_redis_server, free_port
from resque_proto import Resque, connect

CONFIG_PATH = "/etc/redis/redis.conf"
MEBIBYTE = 2**20
VENV_BIN = Path(sys.executable).parent
DEADLINE = 60.0
HTTP_TIMEOUT = 30.0  # generous: the machine may be busy
# Variables of ours a developer's shell may have set; the pods start without them.
OUR_PREFIXES = ("RESQUE_", "REDIS_", "ENQUEUER_", "FRONTEND_", "QUEUE", "WEB_CONCURRENCY", "PORT")


@dataclass
class RunningRedis:
    client: redis.Redis
    port: int
    password: str
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


def wait_until(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: process exited with {process.returncode}")
        try:
            if ready():
                return
        except (redis.ConnectionError, redis.TimeoutError, requests.RequestException):
            pass  # not up yet, or too slow to answer yet on a busy machine
        time.sleep(0.1)
    pytest.fail(f"{what}: not ready within {DEADLINE:.0f} s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def secret_value(manifest: Any, name: str, key: str) -> str:
    secret = manifest.get("Secret", name)
    assert secret is not None, f"{manifest.overlay} renders no Secret {name}"
    return base64.b64decode(secret["data"][key]).decode()


@contextmanager
def redis_like_the_pod(manifest: Any, tmp_path: Path, password: str) -> Iterator[RunningRedis]:
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
    data_dir = tmp_path / "redis-data"
    data_dir.mkdir()
    (tmp_path / "redis.conf").write_text(config.replace(dir_line, f"\ndir {data_dir}\n"))
    port = free_port()
    # The container's own command, pointed at the local config copy and port.
    script = container.spec["command"][2].replace(CONFIG_PATH, str(tmp_path / "redis.conf"))
    script += f" --port {port} --bind 127.0.0.1"
    limit_mb = quantity_mebibytes(container.spec["resources"]["limits"]["memory"])
    env = {
        "PATH": f"{os.path.dirname(find_redis_server())}:{os.environ['PATH']}",
        "REDIS_PASSWORD": password,
        "REDIS_MEMORY_LIMIT_MB": str(limit_mb),
    }
    process = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.DEVNULL)
    # The same URL shape the pods' REDIS_URL has, through the project's client.
    client = connect(f"redis://:{password}@127.0.0.1:{port}/0")
    try:
        wait_until("redis-server", lambda: bool(client.ping()), process)
        yield RunningRedis(client, port, password, limit_mb, env)
    finally:
        client.close()
        stop(process)


@pytest.fixture(params=["dev", "production"])
def running_redis(
    request: pytest.FixtureRequest, rendered: dict[str, Any], tmp_path: Path
) -> Iterator[RunningRedis]:
    with redis_like_the_pod(rendered[request.param], tmp_path, "probe-test-password") as running:
        yield running


def test_redis_runs_with_the_persistence_and_eviction_policy_a_job_store_needs(
    running_redis: RunningRedis,
) -> None:
    config = {text(k): text(v) for k, v in running_redis.client.config_get("*").items()}
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["save"] == "", "RDB snapshots would add forks and a save at every shutdown"
    assert config["maxmemory-policy"] == "noeviction"
    # Workers wake on list pushes (l), schedulers on new delayed jobs (z).
    assert {"K", "l", "z"} <= set(config["notify-keyspace-events"])
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
    env = {**running_redis.env, "REDISCLI_AUTH": running_redis.password}
    assert subprocess.run(command, env=env, timeout=30, capture_output=True).returncode == 0
    env["REDISCLI_AUTH"] = "wrong-password"
    assert subprocess.run(command, env=env, timeout=30, capture_output=True).returncode != 0


# ---------------------------------------------------------------- the apps


@dataclass
class Pod:
    """A service started like its pod: its environment and its probes."""

    env: dict[str, str]
    container: Any
    process: subprocess.Popen[bytes] | None = None

    def start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [image_command(self.container)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process


def image_command(container: Any) -> str:
    """The console script the image's CMD runs (resque-py/<name> images)."""
    name = container.spec["image"].split("/")[-1].split(":")[0]
    return str(VENV_BIN / f"resque-{name}")


def pod_env(manifest: Any, name: str, redis: RunningRedis, tmp_path: Path) -> dict[str, str]:
    """The container's environment as the kubelet builds it, mapped to this host."""
    c = manifest.container(name)
    pod: dict[str, str] = {}
    for source in c.spec.get("envFrom", []):
        pod.update(manifest.get("ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in c.spec.get("env", []):
        if "value" in entry:
            value = entry["value"]
            for var, earlier in pod.items():  # $(VAR) expands only earlier entries
                value = value.replace(f"$({var})", earlier)
            pod[entry["name"]] = value
        elif "configMapKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["configMapKeyRef"]
            pod[entry["name"]] = manifest.get("ConfigMap", ref["name"])["data"][ref["key"]]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            pod[entry["name"]] = secret_value(manifest, ref["name"], ref["key"])
    pod["REDIS_URL"] = pod["REDIS_URL"].replace("@redis:6379/", f"@127.0.0.1:{redis.port}/")
    if "PORT" in pod:
        pod["PORT"] = str(free_port())
    (tmp_path / "tmp").mkdir(exist_ok=True)
    host = {k: v for k, v in os.environ.items() if not k.startswith(OUR_PREFIXES)}
    host["PATH"] = f"{VENV_BIN}:{host['PATH']}"
    host["TMPDIR"] = str(tmp_path / "tmp")  # the pod's /tmp emptyDir
    return {**host, **pod}


def mount_files(manifest: Any, name: str, env: dict[str, str], tmp_path: Path) -> None:
    """Write Secret- and ConfigMap-volume files where the env says they are, under tmp_path."""
    c = manifest.container(name)
    for mount in c.spec.get("volumeMounts", []):
        volume = next(v for v in c.pod_spec["volumes"] if v["name"] == mount["name"])
        secret, config_map = volume.get("secret"), volume.get("configMap")
        if not secret and not config_map:
            continue
        local = tmp_path / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True)
        if secret:
            for item in secret["items"]:
                (local / item["path"]).write_text(
                    secret_value(manifest, secret["secretName"], item["key"])
                )
        else:
            data = manifest.get("ConfigMap", config_map["name"])["data"]
            items = config_map.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (local / item["path"]).write_text(data[item["key"]])
        for key, value in env.items():
            if value.startswith(mount["mountPath"] + "/"):
                env[key] = str(tmp_path / value.lstrip("/"))


@pytest.fixture
def dev_redis(rendered: dict[str, Any], tmp_path: Path) -> Iterator[RunningRedis]:
    dev = rendered["dev"]
    password = secret_value(dev, "resque-secrets", "redis-password")
    with redis_like_the_pod(dev, tmp_path, password) as running:
        yield running


def test_worker_stays_healthy_through_a_job_and_drains_it_on_its_stop_signal(
    rendered: dict[str, Any], dev_redis: RunningRedis, tmp_path: Path
) -> None:
    dev = rendered["dev"]
    env = pod_env(dev, "worker", dev_redis, tmp_path)
    # The pod's emptyDir at /tmp/health exists before the worker starts.
    health_dir = tmp_path / "health"
    health_dir.mkdir()
    env["RESQUE_HEALTH_FILE"] = str(health_dir / "worker")
    env["RESQUE_EXAMPLES_OUTPUT"] = str(tmp_path / "jobs.jsonl")
    # A 1 s heartbeat makes the probe's staleness limit (3 heartbeats) shorter
    # than the job below, so a worker that stopped touching its file while busy
    # or draining would fail the probe here.
    env["RESQUE_HEARTBEAT_INTERVAL"] = "1"
    pod = Pod(env, dev.container("worker"))
    process = pod.start(tmp_path / "worker.log")
    probe = pod.container.spec["livenessProbe"]["exec"]["command"]

    def healthy() -> bool:
        return subprocess.run(probe, env=env, timeout=30, check=False).returncode == 0

    output = tmp_path / "jobs.jsonl"
    try:
        wait_until("worker health check", healthy, process)
        resque = Resque(dev_redis.client, namespace=env["RESQUE_NAMESPACE"])
        resque.enqueue("file_serve", "Archive", 44)
        wait_until("Archive job", lambda: output.exists() and output.read_text() != "", process)
        assert json.loads(output.read_text().splitlines()[0])["repo_id"] == 44

        resque.enqueue("file_serve", "SlowArchive", 5, 45)
        wait_until("a busy worker", lambda: any(w.busy for w in resque.workers.all()), process)
        # SIGQUIT, the image's STOPSIGNAL: the job finishes, then the worker exits 0.
        process.send_signal(signal.SIGQUIT)
        deadline = time.monotonic() + DEADLINE
        while process.poll() is None:
            assert time.monotonic() < deadline, "the worker did not drain and exit"
            assert healthy(), "health check failed while the worker was busy or draining"
            time.sleep(0.5)
        assert process.returncode == 0, (tmp_path / "worker.log").read_text()
        finished = [json.loads(line) for line in output.read_text().splitlines()]
        assert [job["job"] for job in finished] == ["Archive", "SlowArchive"]
        assert resque.workers.ids() == []
    finally:
        stop(process, signal.SIGKILL)


def http_get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=HTTP_TIMEOUT, **kwargs)


def probe_url(pod: Pod, probe: str) -> str:
    return f"http://127.0.0.1:{pod.env['PORT']}{pod.container.spec[probe]['httpGet']['path']}"


def test_enqueuer_passes_its_probes_and_accepts_a_job_with_the_secret_token(
    rendered: dict[str, Any], dev_redis: RunningRedis, tmp_path: Path
) -> None:
    dev = rendered["dev"]
    env = pod_env(dev, "enqueuer", dev_redis, tmp_path)
    mount_files(dev, "enqueuer", env, tmp_path)
    pod = Pod(env, dev.container("enqueuer"))
    process = pod.start(tmp_path / "enqueuer.log")
    try:
        ready = probe_url(pod, "readinessProbe")
        wait_until("enqueuer readiness", lambda: http_get(ready).status_code == 200, process)
        assert http_get(probe_url(pod, "livenessProbe")).status_code == 200
        jobs = f"http://127.0.0.1:{env['PORT']}/jobs"
        job = {"queue": "file_serve", "class": "Archive", "args": [44]}
        assert requests.post(jobs, json=job, timeout=HTTP_TIMEOUT).status_code == 401
        token = secret_value(dev, "resque-secrets", "enqueuer-tokens").splitlines()[0]
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            requests.post(jobs, json=job, headers=headers, timeout=HTTP_TIMEOUT).status_code == 202
        )
        resque = Resque(dev_redis.client, namespace=env["RESQUE_NAMESPACE"])
        assert resque.queues.size("file_serve") == 1
        assert stop(process) == 0, (tmp_path / "enqueuer.log").read_text()
    finally:
        stop(process, signal.SIGKILL)


def test_frontend_passes_its_probes_serves_metrics_and_asks_for_a_login(
    rendered: dict[str, Any], dev_redis: RunningRedis, tmp_path: Path
) -> None:
    dev = rendered["dev"]
    env = pod_env(dev, "frontend", dev_redis, tmp_path)
    pod = Pod(env, dev.container("frontend"))
    process = pod.start(tmp_path / "frontend.log")
    try:
        ready = probe_url(pod, "readinessProbe")
        wait_until("frontend readiness", lambda: http_get(ready).status_code == 200, process)
        assert http_get(probe_url(pod, "livenessProbe")).status_code == 200
        base = f"http://127.0.0.1:{env['PORT']}"
        metrics = http_get(f"{base}/metrics")
        assert metrics.status_code == 200 and "\nresque_up 1.0" in metrics.text
        assert http_get(f"{base}/").status_code == 401
        login = (env["FRONTEND_AUTH_USER"], env["FRONTEND_AUTH_PASSWORD"])
        assert http_get(f"{base}/", auth=login).status_code == 200
        assert stop(process) == 0, (tmp_path / "frontend.log").read_text()
    finally:
        stop(process, signal.SIGKILL)


def test_scheduler_leads_loads_its_schedule_moves_due_jobs_and_stops_on_term(
    rendered: dict[str, Any], dev_redis: RunningRedis, tmp_path: Path
) -> None:
    dev = rendered["dev"]
    env = pod_env(dev, "scheduler", dev_redis, tmp_path)
    mount_files(dev, "scheduler", env, tmp_path)
    health_dir = tmp_path / "health"  # the pod's emptyDir at /tmp/health
    health_dir.mkdir()
    env["RESQUE_HEALTH_FILE"] = str(health_dir / "scheduler")
    pod = Pod(env, dev.container("scheduler"))
    probe = pod.container.spec["livenessProbe"]["exec"]["command"]
    client = dev_redis.client
    namespace = env["RESQUE_NAMESPACE"]
    lock = f"{namespace}:resque_scheduler_master_lock"

    def healthy() -> bool:
        return subprocess.run(probe, env=env, timeout=30, check=False).returncode == 0

    assert not healthy(), "healthy before the scheduler ever touched its file"
    process = pod.start(tmp_path / "scheduler.log")
    try:
        wait_until("scheduler health check", healthy, process)
        wait_until("the leader lock", lambda: client.get(lock) is not None, process)
        holder = client.get(lock)
        assert holder is not None and text(holder).split(":")[1] == str(process.pid)
        names = set(yaml.safe_load(Path(env["RESQUE_SCHEDULE"]).read_text()))
        wait_until(
            "the schedule file loaded into Redis",
            lambda: {text(k) for k in client.hkeys(f"{namespace}:schedules")} >= names,
            process,
        )
        # A delayed job as Ruby's resque-scheduler writes it, already due.
        due = int(client.time()[0]) - 1
        payload = json.dumps(
            {"class": "Archive", "args": [46], "queue": "k8s_delayed"}, separators=(",", ":")
        )
        with client.pipeline(transaction=True) as pipe:
            pipe.rpush(f"{namespace}:delayed:{due}", payload)
            pipe.sadd(f"{namespace}:timestamps:{payload}", f"delayed:{due}")
            pipe.zadd(f"{namespace}:delayed_queue_schedule", {str(due): due})
            pipe.execute()
        queue = f"{namespace}:queue:k8s_delayed"
        wait_until("the delayed job moved", lambda: client.llen(queue) == 1, process)
        moved = client.lindex(queue, 0)
        assert moved is not None and json.loads(moved) == {"class": "Archive", "args": [46]}
        assert client.zcard(f"{namespace}:delayed_queue_schedule") == 0

        # SIGTERM, the image's stop signal: out within a second or two, lock released.
        started = time.monotonic()
        assert stop(process) == 0, (tmp_path / "scheduler.log").read_text()
        assert time.monotonic() - started < 5, "the scheduler took long to stop"
        assert client.get(lock) is None, "the leader lock outlived the scheduler"
    finally:
        stop(process, signal.SIGKILL)
