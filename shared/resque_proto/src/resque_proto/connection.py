"""Redis connections with deliberate timeouts and no silent write retries.

redis-py retries a failed command by default; a retried ``RPUSH`` or ``LMOVE``
whose first attempt did reach Redis duplicates or loses a job. We retry nothing
automatically: callers that can retry safely (reads, idempotent Lua) do it
themselves.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def redis_url_from_env() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def connect(
    url: str | None = None,
    *,
    socket_timeout: float | None = 5.0,
    connect_timeout: float = 5.0,
    health_check_interval: int = 30,
) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, password in the URL).

    ``socket_timeout`` must exceed the longest blocking command the caller issues.
    """
    import redis  # here, not at the top: reading DEFAULT_REDIS_URL must not load redis-py
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url or redis_url_from_env(),
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=health_check_interval,
        decode_responses=False,
        encoding_errors="surrogateescape",
    )
