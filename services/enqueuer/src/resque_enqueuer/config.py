"""Service configuration, read once from the environment at start-up.

Every knob has a default; a malformed value stops the service with a message
naming the variable rather than being silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from resque_enqueuer.envvars import ConfigError, positive_number, renamed_settings
from resque_proto.connection import DEFAULT_REDIS_URL
from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.redis_config import RedisConfigError, RedisSettings
from resque_proto.settings import EnvSettings
from resque_proto.status import DEFAULT_TTL as DEFAULT_STATUS_TTL
from resque_proto.status import TTL_ENV as STATUS_TTL_ENV

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_BATCH = 1000
DEFAULT_IDEMPOTENCY_TTL = 24 * 3600
DEFAULT_MAX_DELAY = 5 * 365 * 24 * 3600
DEFAULT_REDIS_TIMEOUT = 2.0
DEFAULT_READY_TIMEOUT = 0.5
DEFAULT_RETRY_AFTER = 1
DEFAULT_MIN_REPLICAS_TIMEOUT = 1.0


@dataclass(frozen=True)
class Config:
    redis_url: str = DEFAULT_REDIS_URL
    namespace: str = DEFAULT_NAMESPACE
    tokens: tuple[str, ...] = ()
    allowed_queues: tuple[str, ...] = ()
    allowed_classes: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch: int = DEFAULT_MAX_BATCH
    idempotency_ttl: int = DEFAULT_IDEMPOTENCY_TTL
    max_delay: int = DEFAULT_MAX_DELAY
    redis_timeout: float = DEFAULT_REDIS_TIMEOUT
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    retry_after: int = DEFAULT_RETRY_AFTER
    status_ttl: int = DEFAULT_STATUS_TTL  # seconds a job status lives; 0: none written
    redis: RedisSettings | None = None  # None: from redis_url alone
    min_replicas: int = 0  # WAIT for this many replicas after each write; 0: do not
    min_replicas_timeout: float = DEFAULT_MIN_REPLICAS_TIMEOUT

    @property
    def auth_required(self) -> bool:
        return bool(self.tokens)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        try:
            redis = RedisSettings.from_env(env)
        except RedisConfigError as error:
            raise ConfigError(str(error)) from None
        settings, _ = renamed_settings(env)
        whole = settings.integer
        return cls(
            redis_url=redis.url,
            redis=redis,
            min_replicas=whole("ENQUEUER_MIN_REPLICAS", 0, minimum=0),
            min_replicas_timeout=positive_number(
                settings, "ENQUEUER_MIN_REPLICAS_TIMEOUT", DEFAULT_MIN_REPLICAS_TIMEOUT
            ),
            namespace=settings.text("RESQUE_NAMESPACE") or DEFAULT_NAMESPACE,
            tokens=read_tokens(settings),
            allowed_queues=settings.items("ENQUEUER_ALLOWED_QUEUES"),
            allowed_classes=settings.items("ENQUEUER_ALLOWED_CLASSES"),
            max_body_bytes=whole("ENQUEUER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1),
            max_batch=whole("ENQUEUER_MAX_BATCH", DEFAULT_MAX_BATCH, minimum=1),
            idempotency_ttl=whole("ENQUEUER_IDEMPOTENCY_TTL", DEFAULT_IDEMPOTENCY_TTL, minimum=1),
            max_delay=whole("ENQUEUER_MAX_DELAY", DEFAULT_MAX_DELAY, minimum=1),
            redis_timeout=positive_number(
                settings, "ENQUEUER_REDIS_TIMEOUT", DEFAULT_REDIS_TIMEOUT
            ),
            ready_timeout=positive_number(
                settings, "ENQUEUER_READY_TIMEOUT", DEFAULT_READY_TIMEOUT
            ),
            retry_after=whole("ENQUEUER_RETRY_AFTER", DEFAULT_RETRY_AFTER, minimum=1),
            status_ttl=whole(STATUS_TTL_ENV, DEFAULT_STATUS_TTL, minimum=0),
        )


def read_tokens(settings: EnvSettings) -> tuple[str, ...]:
    """Tokens from ``ENQUEUER_TOKENS`` or the file named by ``ENQUEUER_TOKENS_FILE``
    (not both): separated by commas or new lines; blank lines and lines starting with
    ``#`` are skipped."""
    text = settings.secret("ENQUEUER_TOKENS") or ""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    tokens = [token.strip() for line in lines for token in line.split(",")]
    return tuple(dict.fromkeys(token for token in tokens if token))
