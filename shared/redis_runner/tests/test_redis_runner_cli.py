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


def test_version_prints_the_one_version_and_starts_nothing(tmp_path: Path) -> None:
    result, port = run(tmp_path, "--version")
    version = (Path(__file__).parents[3] / "VERSION").read_text().strip()
    assert (result.returncode, result.stdout) == (0, f"redis-runner, version {version}\n")
    assert not listening(port)


def test_a_setting_that_is_not_a_number_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_PORT": "six", "REDIS_DATA_DIR": str(tmp_path / "redis")}
    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["redis-runner: REDIS_PORT='six' is not a number"]
    assert not (tmp_path / "redis").exists()
