"""Settings from the environment, and the console script's handling of bad ones."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from redis_runner.server import free_port
from resque_frontend.__main__ import gunicorn_argv
from resque_frontend.config import Settings
from resque_proto.settings import LogSettings
from resque_proto.version import VERSION


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.namespace == "resque"
    assert not settings.read_only and not settings.auth_required
    assert settings.ours_stale_after == 30 and settings.ruby_stale_after == 300


def test_values_from_the_environment() -> None:
    settings = Settings.from_env({
        "REDIS_URL": "redis://r:6380/1", "RESQUE_NAMESPACE": "staging",
        "FRONTEND_READ_ONLY": "yes", "FRONTEND_AUTH_PASSWORD": "pw",
        "FRONTEND_REFRESH_SECONDS": "1.5", "RESQUE_PRUNE_AFTER": "12",
    })  # fmt: skip
    assert (settings.redis_url, settings.namespace) == ("redis://r:6380/1", "staging")
    assert settings.read_only and settings.auth_required
    assert (settings.auth_user, settings.auth_password) == ("admin", "pw")
    assert settings.refresh_seconds == 1.5 and settings.ours_stale_after == 12


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FRONTEND_REFRESH_SECONDS": "soon"}, "FRONTEND_REFRESH_SECONDS='soon' is not a number"),
        ({"RESQUE_PRUNE_AFTER": "-3"}, "RESQUE_PRUNE_AFTER must be positive"),
        ({"FRONTEND_AUTH_USER": "ops"}, "FRONTEND_AUTH_PASSWORD is empty"),
        ({"FRONTEND_THREADS": "many"}, "FRONTEND_THREADS='many' is not a whole number"),
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY='two' is not a whole number"),
        ({"PORT": "http"}, "PORT='http' is not a whole number"),
        ({"RESQUE_LOG_FORMAT": "xml"}, "RESQUE_LOG_FORMAT='xml' must be one of json, text"),
        ({"VVERBOSE": "maybe"}, "VVERBOSE='maybe' is not a boolean"),
        ({"FRONTEND_AUTH_TOKEN": "t", "FRONTEND_AUTH_TOKEN_FILE": "/x"}, "both set"),
    ],
)
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_secrets_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("pw-from-file\n")
    (tmp_path / "token").write_text("token-from-file")
    settings = Settings.from_env({
        "FRONTEND_AUTH_PASSWORD_FILE": str(tmp_path / "password"),
        "FRONTEND_AUTH_TOKEN_FILE": str(tmp_path / "token"),
    })  # fmt: skip
    assert (settings.auth_user, settings.auth_password) == ("admin", "pw-from-file")
    assert settings.auth_token == "token-from-file"


def test_log_settings_and_threads() -> None:
    settings = Settings.from_env({"RESQUE_LOG_FORMAT": "text", "RESQUE_LOG_LEVEL": "debug",
                                  "FRONTEND_THREADS": "8"})  # fmt: skip
    assert settings.logs == LogSettings(format="text", level=logging.DEBUG)
    argv = gunicorn_argv(settings, {})
    assert argv[argv.index("--threads") + 1] == "8"


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "resque_frontend", "--version"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout) == (0, f"resque-frontend, version {VERSION}\n")


def test_console_script_refuses_bad_settings_before_starting_gunicorn() -> None:
    env = {**os.environ, "FRONTEND_REFRESH_SECONDS": "soon"}
    result = subprocess.run([sys.executable, "-m", "resque_frontend"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "FRONTEND_REFRESH_SECONDS='soon' is not a number" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), (" YES ", True), ("On", True),
     ("0", False), ("false", False), ("No", False), (" OFF", False), ("", False)],
)  # fmt: skip
def test_read_only_words_any_case_and_spacing(value: str, expected: bool) -> None:
    assert Settings.from_env({"FRONTEND_READ_ONLY": value}).read_only is expected


def test_an_unknown_boolean_is_an_error_not_false() -> None:
    with pytest.raises(ValueError, match="FRONTEND_READ_ONLY='enabled' is not a boolean"):
        Settings.from_env({"FRONTEND_READ_ONLY": "enabled"})


def test_an_unknown_boolean_stops_the_console_script_with_exit_2_and_one_line(
    redis_url: str,
) -> None:
    """FRONTEND_READ_ONLY=enabled used to leave the dashboard writable (unknown = false)."""
    env = {**os.environ, "FRONTEND_READ_ONLY": "enabled", "PORT": str(free_port()),
           "REDIS_URL": redis_url}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "resque_frontend"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # gunicorn and its workers
        process.communicate()
        pytest.fail("resque-frontend started (serving writable pages) instead of refusing")
    assert process.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("resque-frontend: FRONTEND_READ_ONLY='enabled' ")
    assert "1, true, yes or on" in lines[0] and "0, false, no, off or empty" in lines[0]


def test_gunicorn_command_line() -> None:
    argv = gunicorn_argv(Settings.from_env({"PORT": "9000"}), {"FORWARDED_ALLOW_IPS": "*"})
    assert argv[-1] == "resque_frontend.wsgi:app"
    assert "0.0.0.0:9000" in argv and argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "*"
    workers = gunicorn_argv(Settings.from_env({"WEB_CONCURRENCY": "5"}), {})
    assert workers[workers.index("--workers") + 1] == "5"
