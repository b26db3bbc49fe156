"""Redis connections with deliberate timeouts and no silent write retries.

redis-py retries a failed command by default; a retried ``RPUSH`` or ``LMOVE``
whose first attempt did reach Redis duplicates or loses a job. We retry nothing
automatically: callers that can retry safely (reads, idempotent Lua) do it
themselves.

Every part connects here, configured by the ``REDIS_*`` variables
(``resque_proto.redis_config``, docs/redis.md): a direct ``redis://`` or
``rediss://`` (TLS) URL, or Sentinel (``redis.sentinel.Sentinel.master_for``,
which asks the sentinels for the primary on every new connection). A primary
demoted by a failover answers writes with ``READONLY``: the connections raise
:class:`PrimaryDemoted`, a ``redis.ConnectionError``, and drop every idle
connection of their pool, so each part's "Redis down: back off and reconnect"
path handles a failover and the next connection finds the new primary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from resque_proto.redis_config import DEFAULT_REDIS_URL, RedisSettings, TlsSettings

if TYPE_CHECKING:
    import redis

__all__ = ["DEFAULT_REDIS_URL", "RedisSettings", "connect", "redis_url_from_env"]


def redis_url_from_env() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def connect(
    target: str | RedisSettings | None = None,
    *,
    socket_timeout: float | None = 5.0,
    connect_timeout: float = 5.0,
    health_check_interval: int = 30,
) -> redis.Redis:
    """A client for ``target``: a URL, settings, or None for the ``REDIS_*`` environment.

    ``socket_timeout`` must exceed the longest blocking command the caller issues.
    Nothing is sent until the first command.
    """
    # here, not at the top: reading the settings must not load redis-py
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from resque_proto import demotion

    if isinstance(target, RedisSettings):
        settings = target
    elif target:
        settings = RedisSettings.from_url(target)
    else:
        settings = RedisSettings.from_env()
    common: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
        "health_check_interval": health_check_interval,
        "decode_responses": False,
        "encoding_errors": "surrogateescape",
    }
    credentials = {"username": settings.username, "password": settings.password}
    if settings.uses_sentinel:
        return _sentinel_client(settings, common, credentials)
    kwargs: dict[str, Any] = {**common, **credentials, "db": settings.db}
    if settings.scheme == "unix":
        kwargs.update(path=settings.path, connection_class=demotion.UnixConnection)
    elif settings.tls is not None:
        kwargs.update(tls_kwargs(settings.tls), host=settings.host, port=settings.port,
                      connection_class=demotion.SSLConnection)  # fmt: skip
    else:
        kwargs.update(host=settings.host, port=settings.port, connection_class=demotion.Connection)
    return redis.Redis.from_pool(demotion.ConnectionPool(**kwargs))


def tls_kwargs(tls: TlsSettings) -> dict[str, Any]:
    """redis-py's ``ssl_*`` keyword arguments for ``tls`` (without ``ssl=True``)."""
    return {
        "ssl_ca_certs": tls.ca_file,
        "ssl_certfile": tls.cert_file,
        "ssl_keyfile": tls.key_file,
        "ssl_cert_reqs": "required" if tls.verify else "none",
        "ssl_check_hostname": tls.verify,
    }


def _sentinel_client(
    settings: RedisSettings, common: Mapping[str, Any], credentials: Mapping[str, Any]
) -> redis.Redis:
    from redis.sentinel import Sentinel

    from resque_proto import demotion

    # Sentinels answer fast or not at all: a dead one must not hold up discovery.
    timeouts = (common["socket_timeout"], common["socket_connect_timeout"])
    query_timeout = min(t for t in timeouts if t)
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": query_timeout,
        "socket_connect_timeout": common["socket_connect_timeout"],
        "retry": common["retry"],
        "username": settings.sentinel_username,
        "password": settings.sentinel_password,
    }
    data_kwargs: dict[str, Any] = {**common, **credentials}
    if settings.tls is not None:
        sentinel_kwargs.update(tls_kwargs(settings.tls), ssl=True)
        data_kwargs.update(tls_kwargs(settings.tls), ssl=True)
    data_kwargs["connection_class"] = (
        demotion.SentinelSSLConnection if settings.tls else demotion.SentinelConnection
    )
    sentinel: Any = Sentinel  # untyped in redis-py
    sentinel = sentinel(list(settings.sentinels), sentinel_kwargs=sentinel_kwargs, **data_kwargs)
    assert settings.master is not None
    client: redis.Redis = sentinel.master_for(settings.master, db=settings.db)
    return client
