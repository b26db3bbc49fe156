"""One product: every part started with the SAME environment reads it the same way.

The same ``REDIS_URL_FILE``, ``RESQUE_NAMESPACE``, ``RESQUE_LOG_FORMAT=json`` and
``RESQUE_LOG_LEVEL=debug`` for resque-enqueuer, resque-frontend, resque-scheduler,
resque (the CLI) and resque-worker, on a real Redis: each uses the namespace, and
each writes JSON log lines with the same core keys; ``--version`` of every command
prints ``<prog>, version <VERSION>``; the same bad boolean stops each with exit 2
and one line (docs/configuration.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from redis_runner.polling import wait_for
from redis_runner.server import free_port
from resque_proto.version import VERSION

NAMESPACE = "oneproduct"
CORE_KEYS = {"ts", "level", "logger", "msg", "pid"}
BIN = Path(sys.executable).parent
COMMANDS = ("resque-enqueuer", "resque-frontend", "resque-scheduler", "resque-worker", "resque")
INHERITED = ("REDIS_", "RESQUE_", "ENQUEUER_", "FRONTEND_", "QUEUE", "VERBOSE", "VVERBOSE",
             "LOGGING", "INTERVAL", "PORT", "WEB_CONCURRENCY", "PROMETHEUS_")  # fmt: skip


@pytest.fixture
def same_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    """The one environment every part gets, with nothing inherited that could differ."""
    url_file = tmp_path / "redis-url"
    url_file.write_text(redis_url + "\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED)}
    return {
        **base,
        "REDIS_URL_FILE": str(url_file),
        "RESQUE_NAMESPACE": NAMESPACE,
        "RESQUE_LOG_FORMAT": "json",
        "RESQUE_LOG_LEVEL": "debug",
    }


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a part's log, each of which must be one JSON object."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_one_log_format(text: str, part: str) -> list[dict[str, Any]]:
    entries = json_lines(text)
    assert entries, f"{part} logged nothing"
    for entry in entries:
        assert entry.keys() >= CORE_KEYS, (part, entry)
    return entries


def answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Service:
    """A long-running part (its own process group: gunicorn's workers stop with it)."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen([str(BIN / command)], env=env, stdout=output,
                                            stderr=output, start_new_session=True)  # fmt: skip

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        return self.log.read_text(errors="replace")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Service] = []

    def run(command: str, env: dict[str, str]) -> Service:
        service = Service(command, env, tmp_path / f"{command}.log")
        started.append(service)
        return service

    yield run
    for service in started:
        service.stop()


def web(start: Any, command: str, env: dict[str, str], tmp_path: Path) -> tuple[Service, str]:
    port = free_port()
    metrics = tmp_path / f"{command}-metrics"
    service = start(command, {**env, "PORT": str(port), "WEB_CONCURRENCY": "1",
                              "PROMETHEUS_MULTIPROC_DIR": str(metrics)})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers(url) or service.process.poll() is not None, what=f"{command}")
    assert service.process.poll() is None, service.log.read_text()
    return service, url


def test_every_part_honours_the_namespace_and_logs_the_same_json(
    same_env: dict[str, str], start: Any, redis_client: redis.Redis, tmp_path: Path
) -> None:
    enqueuer, enqueuer_url = web(start, "resque-enqueuer", same_env, tmp_path)
    answer = requests.post(f"{enqueuer_url}/jobs", timeout=30,
                           json={"queue": "one", "class": "Archive", "args": [44]})  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert redis_client.llen(f"{NAMESPACE}:queue:one") == 1

    frontend, frontend_url = web(start, "resque-frontend", same_env, tmp_path)
    metrics = requests.get(f"{frontend_url}/metrics", timeout=30).text
    assert 'resque_queue_jobs{queue="one"} 1.0' in metrics

    cli = subprocess.run([str(BIN / "resque"), "queues", "--json"], env=same_env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["queues"][0]["name"] == "one"

    scheduler = start("resque-scheduler", same_env)
    wait_for(lambda: redis_client.get(f"{NAMESPACE}:resque_scheduler_master_lock"),
             what="the scheduler's lock in the namespace")  # fmt: skip

    worker_env = {**same_env, "QUEUES": "one", "INTERVAL": "0",
                  "RESQUE_JOBS": "resque_worker.examples"}  # fmt: skip
    worker = subprocess.run([str(BIN / "resque-worker")], env=worker_env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert redis_client.get(f"{NAMESPACE}:stat:processed") == b"1"

    logs = {
        "resque-enqueuer": enqueuer.stop(),
        "resque-frontend": frontend.stop(),
        "resque-scheduler": scheduler.stop(),
        "resque": cli.stderr,
        "resque-worker": worker.stderr,
    }
    for part, text in logs.items():
        entries = assert_one_log_format(text, part)
        if part != "resque-worker":  # RESQUE_LOG_LEVEL=debug: each says what it read
            assert any(e["level"] == "debug" for e in entries), (part, entries)
        namespaces = {e["namespace"] for e in entries if "namespace" in e}
        assert namespaces <= {NAMESPACE}, (part, namespaces)


@pytest.mark.parametrize("command", [*COMMANDS, "redis-runner"])
def test_every_command_prints_the_one_version(command: str) -> None:
    done = subprocess.run([str(BIN / command), "--version"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, f"{command}, version {VERSION}\n"), done.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_the_same_bad_boolean_stops_every_part_with_one_line(
    command: str, same_env: dict[str, str]
) -> None:
    """RESQUE_LOG_LEVEL is left out: it decides the level by itself, so resque_proto's
    settings do not read Resque's VERBOSE when it is set."""
    env = {**same_env, "VERBOSE": "maybe", "QUEUES": "one", "INTERVAL": "0",
           "PORT": str(free_port())}  # fmt: skip
    del env["RESQUE_LOG_LEVEL"]
    args = ["queues"] if command == "resque" else []
    process = subprocess.Popen([str(BIN / command), *args], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{command} started despite VERBOSE=maybe")
    assert process.returncode == 2, stderr
    [line] = stderr.splitlines()
    assert "VERBOSE='maybe' is not a boolean: use 1, true, yes or on" in line
