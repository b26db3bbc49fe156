"""The worker's settings: one strict reading (resque_proto.settings) for every part,
Resque's names (log levels, PIDFILE, BACKGROUND, COUNT...), and the ones with no effect."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from worker_harness import WorkerProcess, pid_alive, wait_for, wait_registered

from resque_proto import Resque
from resque_proto.version import VERSION
from resque_worker.config import load

Spawn = Callable[..., WorkerProcess]

ACCEPTED = ("1, true, yes or on", "0, false, no, off or empty")


@pytest.mark.parametrize("name", ["FORK_PER_JOB", "TERM_CHILD", "GRACEFUL_TERM"])
def test_an_unknown_boolean_stops_the_worker_with_exit_2_and_one_line(
    name: str, redis_url: str
) -> None:
    """FORK_PER_JOB=enabled used to count as true (any word not false did)."""
    env = {**os.environ, "REDIS_URL": redis_url, "QUEUES": "q", "INTERVAL": "0",
           "RESQUE_JOBS": "", name: "enabled"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "resque_worker"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"resque-worker: {name}='enabled' ")
    assert all(words in lines[0] for words in ACCEPTED), lines[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), (" YES ", True), ("On", True),
     ("0", False), ("false", False), ("No", False), (" OFF", False)],
)  # fmt: skip
def test_boolean_words_any_case_and_spacing(value: str, expected: bool) -> None:
    config = load(["--queues", "q"], {"FORK_PER_JOB": value, "TERM_CHILD": value,
                                      "GRACEFUL_TERM": value})  # fmt: skip
    assert (config.fork_per_job, config.term_child, config.graceful_term) == (expected,) * 3


def test_boolean_defaults_and_an_empty_flag() -> None:
    config = load(["--queues", "q"], {})
    assert (config.fork_per_job, config.term_child, config.graceful_term) == (True, False, False)
    assert not load(["--queues", "q", "--fork-per-job", ""], {}).fork_per_job


def run_worker(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "REDIS_URL": redis_url, "QUEUES": "q", "INTERVAL": "0",
                "RESQUE_JOBS": "", "RESQUE_LOG_FORMAT": "json", **env}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "resque_worker", *args], env=full_env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("env", "message"),
    [({"INTERVAL": "soon"}, "INTERVAL='soon' is not a number"),
     ({"RESQUE_TERM_TIMEOUT": "-1"}, "RESQUE_TERM_TIMEOUT must be at least 0, got -1"),
     ({"COUNT": "0"}, "COUNT must be at least 1, got 0"),
     ({"COUNT": "two"}, "COUNT='two' is not a whole number"),
     ({"VVERBOSE": "loud"}, "VVERBOSE='loud' is not a boolean"),
     ({"RESQUE_LOG_LEVEL": "chatty"}, "RESQUE_LOG_LEVEL='chatty' must be one of"),
     ({"BACKGROUND": "daemon"}, "BACKGROUND='daemon' is not a boolean")],
)  # fmt: skip
def test_a_bad_setting_is_one_line_and_exit_2(
    env: dict[str, str], message: str, redis_url: str
) -> None:
    result = run_worker(redis_url, **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"resque-worker: {message}"), result.stderr


@pytest.mark.parametrize(
    ("env", "argv", "level"),
    [({}, [], logging.INFO),
     ({"VERBOSE": "1"}, [], logging.INFO),
     ({"LOGGING": "yes"}, [], logging.INFO),
     ({"VVERBOSE": "1"}, [], logging.DEBUG),
     ({"VVERBOSE": "1", "RESQUE_LOG_LEVEL": "error"}, [], logging.ERROR),
     ({"RESQUE_LOG_LEVEL": "warning"}, [], logging.WARNING),
     ({"RESQUE_LOG_LEVEL": "warning"}, ["--log-level", "debug"], logging.DEBUG)],
)  # fmt: skip
def test_log_level_from_resque_names(env: dict[str, str], argv: list[str], level: int) -> None:
    assert load(["--queues", "q", *argv], env).log_level == level


def test_resque_process_settings_and_their_flags() -> None:
    env = {"PIDFILE": "/run/w.pid", "BACKGROUND": "yes", "RUN_AT_EXIT_HOOKS": "1", "COUNT": "3"}
    config = load(["--queues", "q"], env)
    assert (config.pidfile, config.background, config.run_at_exit_hooks, config.concurrency) == (
        "/run/w.pid", True, True, 3)  # fmt: skip
    flags = ["--queues", "q", "--pidfile", "", "--background", "no", "--concurrency", "1",
             "--run-at-exit-hooks", "off"]  # fmt: skip
    config = load(flags, env)
    assert (config.pidfile, config.background, config.run_at_exit_hooks, config.concurrency) == (
        None, False, False, 1)  # fmt: skip
    defaults = load(["--queues", "q"], {})
    assert (defaults.pidfile, defaults.background, defaults.run_at_exit_hooks) == (
        None, False, False)  # fmt: skip
    assert defaults.concurrency == 1


def test_version_flag() -> None:
    result = subprocess.run([sys.executable, "-m", "resque_worker", "--version"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"resque-worker, version {VERSION}"


def test_settings_without_effect_are_named_in_a_warning_and_the_level_applies(
    redis_url: str,
) -> None:
    """MIN_INTERVAL & co. used to be ignored silently; RESQUE_LOG_LEVEL hides info lines."""
    result = run_worker(redis_url, MIN_INTERVAL="1", BACKOFF_INTERVAL="2",
                        RESQUE_LOG_LEVEL="warning", FORK_PER_JOB="false")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = log_lines(result.stderr)
    warned = [line["setting"] for line in lines if line["level"] == "warning" and "setting" in line]
    assert warned == ["MIN_INTERVAL", "BACKOFF_INTERVAL"]
    assert all(line["level"] != "info" for line in lines), lines
    verbose = log_lines(run_worker(redis_url, FORK_PER_JOB="false").stderr)
    assert any(line["msg"] == "worker starting" for line in verbose)


def test_pidfile_holds_the_pid_while_the_worker_runs_and_is_removed_at_exit(
    spawn_worker: Spawn, resque: Resque, tmp_path: Path
) -> None:
    pidfile = tmp_path / "worker.pid"
    worker = spawn_worker(PIDFILE=str(pidfile))
    wait_registered(resque, worker)
    assert pidfile.read_text() == str(worker.pid)
    worker.signal(signal.SIGQUIT)
    assert worker.wait() == 0
    assert not pidfile.exists()


def test_background_detaches_as_process_daemon(resque: Resque, worker_env: dict[str, str],
                                               tmp_path: Path) -> None:  # fmt: skip
    """The started process exits 0 at once; the worker runs on in a new session with its
    stdio on /dev/null, and writes its own pid (not the starter's) to PIDFILE."""
    pidfile = tmp_path / "worker.pid"
    env = {**worker_env, "BACKGROUND": "1", "PIDFILE": str(pidfile), "RESQUE_LOG_FORMAT": "json"}
    starter = subprocess.Popen([sys.executable, "-m", "resque_worker"], env=env,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    _, stderr = starter.communicate(timeout=60)
    assert starter.returncode == 0 and stderr == "", stderr
    daemon = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), what="PIDFILE"))
    try:
        assert daemon != starter.pid and os.getsid(daemon) == daemon
        assert os.readlink(f"/proc/{daemon}/fd/2") == os.devnull
        assert os.readlink(f"/proc/{daemon}/cwd") == os.getcwd()
        wait_for(lambda: any(f":{daemon}:" in i for i in resque.workers.ids()), what="registered")
        os.kill(daemon, signal.SIGQUIT)
        wait_for(lambda: not pid_alive(daemon), what="the daemon to exit")
        assert resque.workers.ids() == []
        assert not pidfile.exists()
    finally:
        if pid_alive(daemon):
            os.kill(daemon, signal.SIGKILL)
