"""resque_proto.settings: the one strict reading of boolean settings of every part."""

from __future__ import annotations

import pytest

from resque_proto.settings import BooleanSettingError, env_bool, parse_bool

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
