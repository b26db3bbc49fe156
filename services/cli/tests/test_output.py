"""The pure helpers, in-process: tables, durations, argument parsing, redaction."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from resque_cli.arguments import job_argument
from resque_cli.cli import cli
from resque_cli.connection import redacted
from resque_cli.output import duration, table


def test_table_pads_columns_and_shows_missing_values() -> None:
    assert table(("A", "LONGER"), [("xyz", None), (True, "multi\nline")]) == (
        "A    LONGER\nxyz  -\nyes  multi line"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (61, "1m 01s"), (3725, "1h 02m"), (90000, "1d 01h"), (-3, "0s")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("given", "value"),
    [("44", 44), ("4.5", 4.5), ("x", "x"), ("[1]", [1]), ('"1"', "1"), ("NaN", "NaN"), ("", "")],
)
def test_job_argument(given: str, value: object) -> None:
    assert job_argument(given) == value


def test_redacted() -> None:
    assert redacted("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"


def test_json_flag_on_group_and_command_in_process(redis_url: str) -> None:
    runner = CliRunner()
    for args in (["--json", "queues"], ["queues", "--json"]):
        result = runner.invoke(cli, ["--redis-url", redis_url, *args])
        assert (result.exit_code, result.output) == (0, '{\n  "queues": []\n}\n')
