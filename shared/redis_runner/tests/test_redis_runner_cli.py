"""The ``redis-runner`` console script (``make run``'s Redis): help and arguments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from redis_runner.server import free_port

SCRIPT = Path(sys.executable).with_name("redis-runner")


def run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the script; if it starts serving, stop it (SIGTERM stops its Redis too) and
    report that. Returns the result and the port it would have served on."""
    port = free_port()
    env = {**os.environ, "REDIS_PORT": str(port), "REDIS_DATA_DIR": str(tmp_path / "redis"),
           "REDIS_DRAIN_SECONDS": "0"}  # fmt: skip
    process = subprocess.Popen([str(SCRIPT), *args], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"redis-runner {' '.join(args)} kept running: {stdout}{stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_and_starts_nothing(flag: str, tmp_path: Path) -> None:
    result, port = run(tmp_path, flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: redis-runner")
    for variable in ("REDIS_PORT", "REDIS_DATA_DIR", "REDIS_DRAIN_SECONDS"):
        assert variable in result.stdout
    assert not listening(port)
    assert not (tmp_path / "redis").exists()


def test_an_unknown_argument_is_an_error(tmp_path: Path) -> None:
    result, port = run(tmp_path, "--port", "7000")
    assert result.returncode == 2
    assert "unrecognized arguments: --port 7000" in result.stderr
    assert result.stderr.startswith("usage: redis-runner")
    assert not listening(port)
