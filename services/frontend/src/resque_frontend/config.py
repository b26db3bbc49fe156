"""Frontend settings, read once from the environment (see docs/frontend.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.redis_config import RedisSettings
from resque_proto.settings import EnvSettings, LogSettings, SettingError

DEFAULT_LOGS = LogSettings(format="json", level=logging.INFO)


def _positive(settings: EnvSettings, name: str, default: float) -> float:
    value = settings.number(name, default)
    if value <= 0:
        raise SettingError(f"{name} must be positive, got {value:g}")
    return value


@dataclass(frozen=True)
class Settings:
    redis_url: str
    namespace: str
    read_only: bool = False
    auth_user: str | None = None
    auth_password: str | None = None
    auth_token: str | None = None
    refresh_seconds: float = 3.0
    ours_stale_after: float = 30.0
    ruby_stale_after: float = 300.0
    redis_timeout: float = 2.0
    redis: RedisSettings | None = None  # None: from redis_url alone
    port: int = 8080
    workers: int = 2  # gunicorn worker processes
    threads: int = 4  # per gunicorn worker process
    logs: LogSettings = DEFAULT_LOGS

    @property
    def auth_required(self) -> bool:
        return bool(self.auth_password or self.auth_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Raises a ValueError (a SettingError or RedisConfigError) naming the setting."""
        settings = EnvSettings(os.environ if env is None else env)
        user = settings.text("FRONTEND_AUTH_USER")
        password = settings.secret("FRONTEND_AUTH_PASSWORD")
        if user and not password:
            raise SettingError("FRONTEND_AUTH_USER is set but FRONTEND_AUTH_PASSWORD is empty")
        redis = RedisSettings.from_env(settings.env)
        return cls(
            redis_url=redis.url,
            redis=redis,
            namespace=settings.text("RESQUE_NAMESPACE") or DEFAULT_NAMESPACE,
            read_only=settings.boolean("FRONTEND_READ_ONLY", False),
            auth_user=user or ("admin" if password else None),
            auth_password=password,
            auth_token=settings.secret("FRONTEND_AUTH_TOKEN"),
            refresh_seconds=_positive(settings, "FRONTEND_REFRESH_SECONDS", 3.0),
            ours_stale_after=_positive(settings, "RESQUE_PRUNE_AFTER", 30.0),
            redis_timeout=_positive(settings, "FRONTEND_REDIS_TIMEOUT", 2.0),
            port=settings.integer("PORT", 8080, minimum=1),
            workers=settings.integer("WEB_CONCURRENCY", 2, minimum=1),
            threads=settings.integer("FRONTEND_THREADS", 4, minimum=1),
            logs=settings.logs(),
        )
