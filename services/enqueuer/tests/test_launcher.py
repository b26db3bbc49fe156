"""``resque-enqueuer`` itself: help, configuration errors, the gunicorn command line."""

from __future__ import annotations

import os
import subprocess
import sys

from resque_enqueuer.__main__ import gunicorn_argv
from resque_proto.version import VERSION


def launch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resque_enqueuer", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_variable() -> None:
    result = launch("--help")

    assert result.returncode == 0
    for name in (
        "PORT",
        "WEB_CONCURRENCY",
        "ENQUEUER_TOKENS_FILE",
        "ENQUEUER_MAX_BATCH",
        "RESQUE_STATUS_TTL",
    ):
        assert name in result.stdout


def test_version() -> None:
    result = launch("--version")

    assert (result.returncode, result.stdout) == (0, f"resque-enqueuer, version {VERSION}\n")


def test_a_bad_boolean_of_every_part_stops_the_launch_with_one_line() -> None:
    result = launch(VERBOSE="maybe")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "resque-enqueuer: configuration error: VERBOSE='maybe' is not a boolean: use 1, true, "
        "yes or on for true, and 0, false, no, off or empty for false"
    ]


def test_a_bad_setting_stops_the_launch_with_its_name() -> None:
    result = launch(ENQUEUER_MAX_BATCH="lots")

    assert result.returncode == 2
    assert "ENQUEUER_MAX_BATCH" in result.stderr


def test_a_bad_status_expiry_stops_the_launch_with_its_name() -> None:
    result = launch(RESQUE_STATUS_TTL="-5")

    assert result.returncode == 2
    assert "RESQUE_STATUS_TTL" in result.stderr


def test_gunicorn_gets_our_config_module_and_extra_arguments() -> None:
    argv = gunicorn_argv(["--workers", "3"])

    assert argv[1:] == [
        "-m",
        "gunicorn",
        "-c",
        "python:resque_enqueuer.gunicorn_conf",
        "--workers",
        "3",
        "resque_enqueuer.wsgi:app",
    ]


def test_a_bad_server_setting_stops_the_launch_with_its_name() -> None:
    result = launch(WEB_CONCURRENCY="two")

    assert result.returncode == 2
    assert "WEB_CONCURRENCY" in result.stderr


def test_the_gunicorn_config_does_not_import_redis_before_gevent_patches() -> None:
    probe = "import sys, resque_enqueuer.gunicorn_conf; print('redis' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "False"
