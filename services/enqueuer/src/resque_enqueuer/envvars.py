"""Reading environment variables strictly, without importing Redis.

The gunicorn configuration imports this in the master process: nothing here may
import redis (or ssl), which gevent must monkey-patch first in each worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from resque_proto.settings import BooleanSettingError, env_bool

__all__ = [
    "ConfigError",
    "ServerSettings",
    "comma_list",
    "flag",
    "non_negative_int",
    "positive_float",
    "positive_int",
]


class ConfigError(ValueError):
    """An environment variable whose value cannot be used."""


@dataclass(frozen=True)
class ServerSettings:
    """What the gunicorn configuration reads (the app never sees these)."""

    port: int
    workers: int
    worker_connections: int
    graceful_timeout: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if env is None else env
        return cls(
            port=positive_int(env, "PORT", 8000),
            workers=positive_int(env, "WEB_CONCURRENCY", os.cpu_count() or 1),
            worker_connections=positive_int(env, "ENQUEUER_WORKER_CONNECTIONS", 1000),
            graceful_timeout=positive_int(env, "ENQUEUER_GRACEFUL_TIMEOUT", 30),
        )


def comma_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = integer(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name}: must be positive, got {value}")
    return value


def non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number, 0 or more (0 usually meaning "off")."""
    value = integer(env, name, default)
    if value < 0:
        raise ConfigError(f"{name}: must be 0 or more, got {value}")
    return value


def integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not an integer") from None


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean, read as every part reads one (resque_proto.settings): 1/true/yes/on,
    0/false/no/off/empty, any case; another value is a ConfigError naming the words."""
    try:
        return env_bool(env, name, default)
    except BooleanSettingError as error:
        raise ConfigError(str(error)) from None


def positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name}: must be a positive number, got {raw}")
    return value
