"""Configuration from the environment: defaults, parsing, clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from resque_enqueuer.config import Config
from resque_enqueuer.envvars import ConfigError, ServerSettings, renamed_settings
from resque_proto.settings import LogSettings


def test_defaults() -> None:
    config = Config.from_env({})

    assert config.redis_url == "redis://localhost:6379/0"
    assert config.namespace == "resque"
    assert config.tokens == ()
    assert not config.auth_required
    assert (config.max_body_bytes, config.max_batch) == (1024 * 1024, 1000)
    assert config.max_delay == 5 * 365 * 24 * 3600
    assert config.status_ttl == 86_400


def test_values_are_read() -> None:
    config = Config.from_env(
        {
            "REDIS_URL": "redis://r:6380/2",
            "RESQUE_NAMESPACE": "staging",
            "ENQUEUER_ALLOWED_QUEUES": "high*, low",
            "ENQUEUER_ALLOWED_CLASSES": "Archive",
            "ENQUEUER_MAX_BODY_BYTES": "2048",
            "ENQUEUER_MAX_BATCH": "50",
            "ENQUEUER_IDEMPOTENCY_TTL": "60",
            "ENQUEUER_MAX_DELAY": "86400",
            "ENQUEUER_REDIS_TIMEOUT": "0.25",
            "RESQUE_STATUS_TTL": "3600",
        }
    )

    assert config.redis_url == "redis://r:6380/2"
    assert config.namespace == "staging"
    assert config.allowed_queues == ("high*", "low")
    assert config.allowed_classes == ("Archive",)
    assert (config.max_body_bytes, config.max_batch, config.idempotency_ttl) == (2048, 50, 60)
    assert config.max_delay == 86400
    assert config.redis_timeout == 0.25
    assert config.status_ttl == 3600


def test_a_status_expiry_of_0_turns_statuses_off() -> None:
    assert Config.from_env({"RESQUE_STATUS_TTL": "0"}).status_ttl == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENQUEUER_MAX_BATCH", "lots"),
        ("ENQUEUER_MAX_BODY_BYTES", "0"),
        ("ENQUEUER_IDEMPOTENCY_TTL", "-5"),
        ("ENQUEUER_MAX_DELAY", "1.5"),
        ("ENQUEUER_MAX_DELAY", "0"),
        ("ENQUEUER_REDIS_TIMEOUT", "nan"),
        ("ENQUEUER_REDIS_TIMEOUT", "inf"),
        ("RESQUE_STATUS_TTL", "-1"),
        ("RESQUE_STATUS_TTL", "1d"),
        ("RESQUE_STATUS_TTL", "1.5"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_an_unreadable_tokens_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENQUEUER_TOKENS_FILE"):
        Config.from_env({"ENQUEUER_TOKENS_FILE": str(tmp_path / "missing")})


def test_server_settings() -> None:
    settings = ServerSettings.from_env({"PORT": "9000", "WEB_CONCURRENCY": "3"})

    assert (settings.port, settings.workers, settings.graceful_timeout) == (9000, 3, 30)
    with pytest.raises(ConfigError, match="PORT"):
        ServerSettings.from_env({"PORT": "http"})


def test_tokens_from_the_variable_or_a_file_with_comments(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# rotated 2026-11\nnew-token\n\nold-token, other\n")

    assert Config.from_env({"ENQUEUER_TOKENS": "a, b,,a"}).tokens == ("a", "b")
    from_file = Config.from_env({"ENQUEUER_TOKENS_FILE": str(token_file)}).tokens
    assert from_file == ("new-token", "old-token", "other")


def test_tokens_and_a_tokens_file_together_are_an_error(tmp_path: Path) -> None:
    """As every secret of every part: NAME or NAME_FILE, not both."""
    token_file = tmp_path / "tokens"
    token_file.write_text("t\n")

    with pytest.raises(ConfigError, match="ENQUEUER_TOKENS and ENQUEUER_TOKENS_FILE"):
        Config.from_env({"ENQUEUER_TOKENS": "x", "ENQUEUER_TOKENS_FILE": str(token_file)})


def test_log_settings_are_every_parts() -> None:
    settings = ServerSettings.from_env({"RESQUE_LOG_FORMAT": "text", "VVERBOSE": "1"})

    assert settings.logs == LogSettings(format="text", level=logging.DEBUG)
    with pytest.raises(ConfigError, match=r"^VERBOSE='maybe' is not a boolean"):
        ServerSettings.from_env({"VERBOSE": "maybe"})


def test_the_old_log_level_name_still_works_with_a_warning() -> None:
    env = {"ENQUEUER_LOG_LEVEL": "warning", "RESQUE_LOG_FORMAT": "json"}

    assert ServerSettings.from_env(env).logs.level == logging.WARNING
    assert renamed_settings(env)[1] == [
        "ENQUEUER_LOG_LEVEL is deprecated: use RESQUE_LOG_LEVEL (docs/configuration.md)"
    ]
    both = {**env, "RESQUE_LOG_LEVEL": "error"}
    assert ServerSettings.from_env(both).logs.level == logging.ERROR  # the canonical name wins
