"""Frontend settings, read once from the environment (see docs/frontend.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from resque_proto.keys import namespace_from_env
from resque_proto.redis_config import RedisSettings
from resque_proto.settings import env_bool


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {raw!r}") from error
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
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

    @property
    def auth_required(self) -> bool:
        return bool(self.auth_password or self.auth_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        user = env.get("FRONTEND_AUTH_USER") or None
        password = env.get("FRONTEND_AUTH_PASSWORD") or None
        if user and not password:
            raise ValueError("FRONTEND_AUTH_USER is set but FRONTEND_AUTH_PASSWORD is empty")
        redis = RedisSettings.from_env(env)  # a RedisConfigError is a ValueError
        return cls(
            redis_url=redis.url,
            redis=redis,
            namespace=env.get("RESQUE_NAMESPACE") or namespace_from_env(),
            read_only=env_bool(env, "FRONTEND_READ_ONLY", False),
            auth_user=user or ("admin" if password else None),
            auth_password=password,
            auth_token=env.get("FRONTEND_AUTH_TOKEN") or None,
            refresh_seconds=_number(env, "FRONTEND_REFRESH_SECONDS", 3.0),
            ours_stale_after=_number(env, "RESQUE_PRUNE_AFTER", 30.0),
            redis_timeout=_number(env, "FRONTEND_REDIS_TIMEOUT", 2.0),
        )
