"""Settings from the environment, and the console script's handling of bad ones."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resque_frontend.__main__ import gunicorn_argv
from resque_frontend.config import Settings


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
        ({"FRONTEND_REFRESH_SECONDS": "soon"}, "FRONTEND_REFRESH_SECONDS must be a number"),
        ({"RESQUE_PRUNE_AFTER": "-3"}, "RESQUE_PRUNE_AFTER must be positive"),
        ({"FRONTEND_AUTH_USER": "ops"}, "FRONTEND_AUTH_PASSWORD is empty"),
    ],
)
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_console_script_refuses_bad_settings_before_starting_gunicorn() -> None:
    env = {**os.environ, "FRONTEND_REFRESH_SECONDS": "soon"}
    result = subprocess.run([sys.executable, "-m", "resque_frontend"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert "FRONTEND_REFRESH_SECONDS must be a number" in result.stderr


def test_gunicorn_command_line() -> None:
    argv = gunicorn_argv({"PORT": "9000"})
    assert argv[-1] == "resque_frontend.wsgi:app"
    assert "0.0.0.0:9000" in argv and argv[-3:-1] == ["--workers", "2"]
    assert "--workers" not in gunicorn_argv({"WEB_CONCURRENCY": "5"})
