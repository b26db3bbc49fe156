"""Fixtures of the enqueuer tests: apps on the real test Redis, and real gunicorns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient

from redis_runner.server import free_port
from resque_enqueuer.app import create_app
from resque_enqueuer.config import Config

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(redis_url: str) -> AppFactory:
    """``make_app(tokens=(...), ...)``: an app on the test Redis with config overrides."""

    def build(**overrides: Any) -> Flask:
        app = create_app(replace(Config(redis_url=redis_url), **overrides))
        app.testing = False  # exercise the real error handlers, as in production
        return app

    return build


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()


Queued = Callable[[str], list[str]]
Waiter = Callable[..., None]


@pytest.fixture
def queued(redis_client: redis.Redis) -> Queued:
    """``queued(queue)``: the exact payloads waiting on a queue of the test Redis."""

    def read(queue: str) -> list[str]:
        items = redis_client.lrange(f"resque:queue:{queue}", 0, -1)
        return [item.decode() if isinstance(item, bytes) else item for item in items]

    return read


@pytest.fixture
def poll() -> Waiter:
    """``poll(predicate, timeout, what)``: wait for an outcome, never for a duration."""
    return wait_until


@dataclass
class Enqueuer:
    """A ``resque-enqueuer`` (gunicorn) process started by a test."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_until(predicate: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def start_enqueuer(tmp_path: Path) -> Iterator[Callable[..., Enqueuer]]:
    """Start ``resque-enqueuer`` (real gunicorn + gevent); every one is stopped at the end."""
    started: list[Enqueuer] = []

    def start(redis_url: str, workers: int = 2, **env: str) -> Enqueuer:
        port = free_port()
        log_path = tmp_path / f"enqueuer-{port}.log"
        metrics_dir = tmp_path / f"metrics-{port}"
        environment = {
            **os.environ,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "REDIS_URL": redis_url,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        }
        command = [sys.executable, "-m", "resque_enqueuer"]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, env=environment, stdout=log_file, stderr=subprocess.STDOUT
            )
        enqueuer = Enqueuer(process, f"http://127.0.0.1:{port}", log_path)
        started.append(enqueuer)
        wait_until(
            lambda: answers(enqueuer.url) or process.poll() is not None, 60, "gunicorn to answer"
        )
        assert process.poll() is None, enqueuer.log()
        return enqueuer

    yield start
    for enqueuer in started:
        if enqueuer.process.poll() is None:
            enqueuer.process.kill()
            enqueuer.process.wait(30)
