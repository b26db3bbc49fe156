"""The Redis connection: short timeouts so an unreachable Redis fails in seconds."""

from __future__ import annotations

import os

from resque_proto import Resque, connect
from resque_proto.redis_config import RedisSettings
from resque_proto.redis_config import redacted as redacted_url

CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 10.0  # listing 100,000 failure records must fit in it


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for an error message."""
    return redacted_url(url)


def redis_settings(redis_url: str | None) -> RedisSettings:
    """Where Redis is: ``--redis-url`` if given, else the ``REDIS_*`` environment
    (docs/redis.md); a RedisConfigError (a ValueError) names the bad setting."""
    flag = redis_url if redis_url and redis_url != os.environ.get("REDIS_URL") else None
    return RedisSettings.from_env(os.environ, url=flag)


def open_resque(redis: str | RedisSettings, namespace: str) -> Resque:
    """A ``Resque`` on ``redis``; ValueError for a URL or setting redis-py rejects.

    Nothing is sent to Redis yet: the first command connects.
    """
    client = connect(redis, connect_timeout=CONNECT_TIMEOUT, socket_timeout=COMMAND_TIMEOUT)
    return Resque(client, namespace)
