"""What every command does when Redis is unreachable, ``--help`` and ``--version``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
from cli_testkit import UNREACHABLE, assert_cli_error, run_resque
from click.testing import CliRunner

from resque_cli.cli import cli

COMMANDS = {
    "queues": (),
    "queue": ("file_serve",),
    "enqueue": ("file_serve", "Archive", "44"),
    "failed": (),
    "retry": ("--all",),
    "remove-failed": ("--all",),
    "workers": ("--stale",),
    "prune": (),
    "pause": ("file_serve",),
    "resume": ("file_serve",),
    "delayed": (),
    "stats": (),
}


def test_every_command_is_covered_here() -> None:
    assert sorted(COMMANDS) == sorted(cli.commands)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unreachable_redis_is_one_line_and_exit_1(command: str) -> None:
    started = time.monotonic()
    run = run_resque(UNREACHABLE, command, *COMMANDS[command], "--json")
    assert_cli_error(run, "cannot reach Redis at redis://127.0.0.1:1/0: ", "Connection refused")
    assert time.monotonic() - started < 10


def test_the_password_of_the_url_is_not_printed() -> None:
    run = run_resque("redis://:s3cret@127.0.0.1:1/0", "queues")
    assert_cli_error(run, "redis://:***@127.0.0.1:1/0")
    assert "s3cret" not in run.stderr


def test_a_url_redis_py_rejects() -> None:
    assert_cli_error(run_resque("http://127.0.0.1:1", "stats"), "cannot use Redis at http://")


def test_redis_url_option_wins_over_the_environment(redis_url: str) -> None:
    run = run_resque(UNREACHABLE, "--redis-url", redis_url, "queues", "--json")
    assert run.json() == {"queues": []}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command(command: str) -> None:
    """In-process (the help of the group itself is checked through the script below)."""
    result = CliRunner().invoke(cli, [command, "--help"], prog_name="resque")
    assert result.exit_code == 0 and result.output.startswith(f"Usage: resque {command} ")
    assert "--json" in result.output


def test_group_help_lists_every_command_and_the_environment() -> None:
    run = run_resque(UNREACHABLE, "--help")
    assert run.code == 0
    for command in COMMANDS:
        assert f"  {command} " in run.stdout
    assert "REDIS_URL" in run.stdout and "RESQUE_NAMESPACE" in run.stdout


def test_version() -> None:
    run = run_resque(UNREACHABLE, "--version")
    assert (run.code, run.stdout) == (0, "resque, version 0.1.0\n")


def test_a_bad_setting_of_every_part_is_exit_2_with_one_line() -> None:
    run = run_resque(UNREACHABLE, "queues", VERBOSE="maybe")
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.splitlines() == [
        "resque: VERBOSE='maybe' is not a boolean: use 1, true, yes or on for true, and 0, "
        "false, no, off or empty for false"
    ]


def test_debug_logs_name_the_redis_used_in_every_parts_json_format(redis_url: str) -> None:
    run = run_resque(redis_url, "queues", RESQUE_LOG_LEVEL="debug", RESQUE_LOG_FORMAT="json",
                     RESQUE_NAMESPACE="other")  # fmt: skip
    assert run.code == 0, run.stderr
    entries = [json.loads(line) for line in run.stderr.splitlines()]  # redis-py's too
    assert all({"ts", "level", "logger", "msg", "pid"} <= entry.keys() for entry in entries)
    [ours] = [entry for entry in entries if entry["logger"] == "resque_cli"]
    assert (ours["level"], ours["msg"], ours["namespace"]) == ("debug", "using Redis", "other")


def test_run_in_process_it_leaves_the_process_logging_as_it_was() -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    result = CliRunner().invoke(cli, ["queues", "--help"], prog_name="resque")
    assert result.exit_code == 0
    assert (root.handlers, root.level) == before


def test_unknown_command_is_a_click_usage_error() -> None:
    run = run_resque(UNREACHABLE, "frobnicate")
    assert run.code == 2 and "No such command 'frobnicate'" in run.stderr
    assert "Traceback" not in run.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "resque_cli", "--version"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "resque, version 0.1.0\n")
