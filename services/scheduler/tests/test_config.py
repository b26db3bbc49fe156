"""Settings read as every part reads them: log format and level, --version, bad values."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from resque_proto.settings import LogSettings, SettingError
from resque_proto.version import VERSION
from resque_scheduler.config import load


def test_log_settings_from_the_environment_and_the_flag() -> None:
    env = {"RESQUE_LOG_FORMAT": "text", "RESQUE_LOG_LEVEL": "debug"}
    assert load([], env).logs == LogSettings(format="text", level=logging.DEBUG)
    assert load(["--log-format", "JSON"], env).logs.format == "json"
    assert load([], {"VVERBOSE": "1", "RESQUE_LOG_FORMAT": "json"}).logs.level == logging.DEBUG


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"VERBOSE": "maybe"}, "VERBOSE='maybe' is not a boolean"),
        ([], {"RESQUE_LOG_LEVEL": "loud"}, "RESQUE_LOG_LEVEL='loud' must be one of"),
        (["--log-format", "xml"], {}, "--log-format='xml' must be json or text"),
    ],
)
def test_bad_log_settings_are_errors(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        load(argv, env)


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resque_scheduler", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_version() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout) == (0, f"resque-scheduler, version {VERSION}\n")


def test_a_bad_boolean_stops_the_scheduler_with_exit_2_and_one_line() -> None:
    result = run(VERBOSE="maybe")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("resque-scheduler: VERBOSE='maybe' is not a boolean: use 1, true")
