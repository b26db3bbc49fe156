"""Fixtures of the frontend tests: apps on the real test Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from redis_runner.server import free_port
from resque_frontend.app import create_app
from resque_frontend.config import Settings
from resque_proto import Resque, connect

sys.path.insert(0, str(Path(__file__).parent))  # frontend_testkit

AppFactory = Callable[..., Flask]


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url), namespace="resque")


@pytest.fixture
def make_app(redis_url: str, resque: Resque) -> AppFactory:
    """``make_app(read_only=True, ...)``: an app on the test Redis with settings overrides."""

    def build(**overrides: Any) -> Flask:
        settings = replace(Settings(redis_url=redis_url, namespace="resque"), **overrides)
        app = create_app(settings, resque)
        app.testing = False  # exercise the real error handlers, as in production
        return app

    return build


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()


@pytest.fixture
def frontend(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """Base URL of a real ``resque-frontend`` (gunicorn, 2 workers) on the test Redis."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "REDIS_URL": redis_url, "WEB_CONCURRENCY": "2",
           "RESQUE_NAMESPACE": "resque"}  # fmt: skip
    log = tmp_path / "frontend.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "resque_frontend"], env=env, stdout=output, stderr=output
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, process, log)
        yield base
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"resque-frontend did not start:\n{log.read_text()}")
        time.sleep(0.1)
