"""The launcher's and gunicorn's settings, read through resque_proto.settings without Redis.

The gunicorn configuration imports this in the master process: nothing here may
import redis (or ssl), which gevent must monkey-patch first in each worker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from resque_proto.settings import EnvSettings, LogSettings, SettingError

__all__ = ["RENAMED", "ConfigError", "ServerSettings", "positive_number", "renamed_settings"]

ConfigError = SettingError
"""A setting whose value cannot be used (one line naming it): resque_proto's error."""

RENAMED = {"ENQUEUER_LOG_LEVEL": "RESQUE_LOG_LEVEL"}
"""Old names still read, with a warning, when the canonical name is not set."""


def renamed_settings(env: Mapping[str, str]) -> tuple[EnvSettings, list[str]]:
    """Settings of ``env`` with each old name's value under its canonical name, and a
    warning for each old name in use."""
    values = dict(env)
    warnings = []
    for old, new in RENAMED.items():
        if env.get(old, "").strip():
            warnings.append(f"{old} is deprecated: use {new} (docs/configuration.md)")
            values.setdefault(new, env[old])
    return EnvSettings(values), warnings


def positive_number(settings: EnvSettings, name: str, default: float) -> float:
    value = settings.number(name, default)
    if value <= 0:
        raise SettingError(f"{name} must be a positive number, got {value:g}")
    return value


@dataclass(frozen=True)
class ServerSettings:
    """What the gunicorn configuration reads (the app never sees these)."""

    port: int
    workers: int
    worker_connections: int
    graceful_timeout: int
    logs: LogSettings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        settings, _ = renamed_settings(os.environ if env is None else env)
        return cls(
            port=settings.integer("PORT", 8000, minimum=1),
            workers=settings.integer("WEB_CONCURRENCY", os.cpu_count() or 1, minimum=1),
            worker_connections=settings.integer("ENQUEUER_WORKER_CONNECTIONS", 1000, minimum=1),
            graceful_timeout=settings.integer("ENQUEUER_GRACEFUL_TIMEOUT", 30, minimum=1),
            logs=settings.logs(),
        )
