"""Helpers of tests/ha: run the real parts as processes with a clean environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from redis_runner.ha import has_tls_redis
from redis_runner.server import free_port

HERE = Path(__file__).resolve().parent
PART_MODULES = {
    "worker": "resque_worker",
    "scheduler": "resque_scheduler",
    "enqueuer": "resque_enqueuer",
    "frontend": "resque_frontend",
}

needs_tls_redis = pytest.mark.skipif(
    not has_tls_redis(), reason="needs a redis-server built with TLS (Debian's) and openssl"
)


def clean_environment(**env: str) -> dict[str, str]:
    """os.environ without any REDIS_*/RESQUE_*/ENQUEUER_*/FRONTEND_* setting, plus ``env``."""
    prefixes = ("REDIS_", "RESQUE_", "ENQUEUER_", "FRONTEND_", "QUEUE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    path = os.pathsep.join(filter(None, [str(HERE), base.get("PYTHONPATH", "")]))
    return {**base, "PYTHONPATH": path, "RESQUE_LOG_FORMAT": "json", **env}


@dataclass
class Part:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def run_part(
    part: str, env: Mapping[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a part to completion (a burst worker, or one that must refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", PART_MODULES.get(part, part), *args],
        env=clean_environment(**env), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def answers(url: str, path: str = "/healthz") -> bool:
    try:
        return requests.get(url + path, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class Parts:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Part] = []

    def start(self, part: str, env: Mapping[str, str], name: str | None = None) -> Part:
        name = name or f"{part}-{len(self.started)}"
        log_path = self.directory / f"{name}.log"
        environment = clean_environment(**env)
        url = ""
        if part in ("enqueuer", "frontend"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            environment.update(PORT=str(port), WEB_CONCURRENCY=environment.get(
                "WEB_CONCURRENCY", "2"))  # fmt: skip
            if part == "enqueuer":
                environment["PROMETHEUS_MULTIPROC_DIR"] = str(self.directory / f"{name}-metrics")
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", PART_MODULES[part]], env=environment,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started = Part(name, process, log_path, url)
        self.started.append(started)
        if url:
            deadline = time.monotonic() + 60
            while not answers(url) and started.alive():
                assert time.monotonic() < deadline, f"{name} did not answer:\n{started.log()}"
                time.sleep(0.05)
            assert started.alive(), f"{name} exited:\n{started.log()}"
        return started

    def stop_all(self) -> None:
        for part in self.started:
            if part.alive():
                part.process.send_signal(signal.SIGTERM)
        for part in self.started:
            try:
                part.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(part.pid, signal.SIGKILL)
                part.process.wait(10)


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def runs(path: Path) -> list[tuple[str, float, int]]:
    """The lines ha_jobs.Record wrote: (token, epoch, pid)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        token, when, pid = line.split()
        found.append((token, float(when), int(pid)))
    return found
