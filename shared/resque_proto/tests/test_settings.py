"""resque_proto.settings: the one strict reading of boolean settings of every part."""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import version
from pathlib import Path

import pytest

from resque_proto.settings import (
    BooleanSettingError,
    EnvSettings,
    SettingError,
    env_bool,
    parse_bool,
)
from resque_proto.version import VERSION, add_version_flag, build_labels

TRUE = ["1", "true", "yes", "on", "TRUE", "Yes", " on ", "\ttrue\n"]
FALSE = ["0", "false", "no", "off", "", "   ", "False", "NO", " Off "]
UNKNOWN = ["enabled", "disabled", "y", "n", "2", "-1", "t", "truthy", "yes please", "o n"]


@pytest.mark.parametrize("value", TRUE)
def test_true_words(value: str) -> None:
    assert parse_bool("X", value) is True


@pytest.mark.parametrize("value", FALSE)
def test_false_words_and_empty(value: str) -> None:
    assert parse_bool("X", value) is False


@pytest.mark.parametrize("value", UNKNOWN)
def test_any_other_word_is_an_error_naming_the_variable_and_the_words(value: str) -> None:
    with pytest.raises(BooleanSettingError) as raised:
        parse_bool("FRONTEND_READ_ONLY", value)
    message = str(raised.value)
    assert message == (
        f"FRONTEND_READ_ONLY={value!r} is not a boolean: use 1, true, yes or on for true, "
        "and 0, false, no, off or empty for false"
    )
    assert "\n" not in message and isinstance(raised.value, ValueError)
    assert raised.value.name == "FRONTEND_READ_ONLY" and raised.value.value == value


def test_env_bool_default_only_when_unset() -> None:
    assert env_bool({}, "X", default=True) is True
    assert env_bool({}, "X", default=False) is False
    assert env_bool({"X": ""}, "X", default=True) is False  # set, empty: false
    assert env_bool({"X": "on"}, "X", default=False) is True
    with pytest.raises(BooleanSettingError, match="X='maybe'"):
        env_bool({"X": "maybe"}, "X", default=False)


def test_numbers_choices_and_lists_name_the_variable() -> None:
    settings = EnvSettings({"N": " 7 ", "F": "0.5", "BAD": "x", "L": " a, ,b ", "C": "TEXT"})
    assert settings.integer("N", 1) == 7 and settings.integer("UNSET", 3) == 3
    assert settings.number("F", 1.0) == 0.5
    assert settings.items("L") == ("a", "b") and settings.items("UNSET") == ()
    assert settings.choice("C", ("json", "text"), "json") == "text"
    with pytest.raises(SettingError, match=r"^BAD='x' is not a whole number$"):
        settings.integer("BAD", 1)
    with pytest.raises(SettingError, match=r"^BAD='x' is not a number$"):
        settings.number("BAD", 1.0)
    with pytest.raises(SettingError, match=r"^N must be at least 8, got 7$"):
        settings.integer("N", 1, minimum=8)
    with pytest.raises(SettingError, match=r"^BAD='x' must be one of json, text$"):
        settings.choice("BAD", ("json", "text"), "json")
    with pytest.raises(SettingError, match="finite"):
        EnvSettings({"F": "nan"}).number("F", 1.0)


def test_secret_from_the_variable_or_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    assert EnvSettings({"TOKEN": "direct"}).secret("TOKEN") == "direct"
    assert EnvSettings({"TOKEN_FILE": str(secret)}).secret("TOKEN") == "s3cret"
    assert EnvSettings({}).secret("TOKEN") is None
    with pytest.raises(SettingError, match=r"^TOKEN and TOKEN_FILE are both set: use one$"):
        EnvSettings({"TOKEN": "x", "TOKEN_FILE": str(secret)}).secret("TOKEN")
    with pytest.raises(SettingError, match=r"^TOKEN_FILE: cannot read .*/missing: ") as raised:
        EnvSettings({"TOKEN_FILE": str(tmp_path / "missing")}).secret("TOKEN")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("env", "level"),
    [
        ({}, logging.INFO),
        ({"VERBOSE": "1"}, logging.INFO),
        ({"LOGGING": "yes"}, logging.INFO),
        ({"VVERBOSE": "1"}, logging.DEBUG),
        ({"VVERBOSE": "1", "RESQUE_LOG_LEVEL": "warning"}, logging.WARNING),
        ({"RESQUE_LOG_LEVEL": "DEBUG"}, logging.DEBUG),
        ({"RESQUE_LOG_LEVEL": "error"}, logging.ERROR),
    ],
)
def test_log_level_from_resque_log_level_or_resque_verbosity(
    env: dict[str, str], level: int
) -> None:
    assert EnvSettings(env).logs().level == level


def test_log_settings_are_checked() -> None:
    assert EnvSettings({"RESQUE_LOG_FORMAT": "TEXT"}).logs().format == "text"
    with pytest.raises(SettingError, match="RESQUE_LOG_FORMAT='xml' must be one of json, text"):
        EnvSettings({"RESQUE_LOG_FORMAT": "xml"}).logs()
    with pytest.raises(SettingError, match="RESQUE_LOG_LEVEL='loud' must be one of"):
        EnvSettings({"RESQUE_LOG_LEVEL": "loud"}).logs()
    with pytest.raises(BooleanSettingError, match="VERBOSE='sure'"):
        EnvSettings({"VERBOSE": "sure"}).logs()


def test_version_line_and_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="resque-thing")
    add_version_flag(parser)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"resque-thing, version {VERSION}\n"
    assert version("resque-proto") == VERSION and build_labels("worker")["part"] == "worker"


def test_resque_verbosity_words_are_checked_even_when_a_level_is_named() -> None:
    with pytest.raises(BooleanSettingError, match="VVERBOSE='maybe'"):
        EnvSettings({"VVERBOSE": "maybe", "RESQUE_LOG_LEVEL": "info"}).logs()
