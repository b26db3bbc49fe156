"""What the request handlers share within one worker process.

Built by the app factory, which gunicorn calls in each worker after fork (no
preload), so every worker has its own Redis connection pool: sockets are never
shared across processes, and under the gevent worker they are cooperative.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from resque_enqueuer.config import Config
from resque_enqueuer.idempotency import IdempotentPush
from resque_proto import Resque, connect

EXTENSION = "resque_enqueuer"


@dataclass(frozen=True)
class Services:
    config: Config
    resque: Resque
    idempotent: IdempotentPush
    ready_client: redis.Redis

    @classmethod
    def build(cls, config: Config) -> Services:
        client = connect(
            config.redis_url,
            socket_timeout=config.redis_timeout,
            connect_timeout=config.redis_timeout,
        )
        resque = Resque(client, config.namespace, status_ttl=config.status_ttl)
        ready_client = connect(
            config.redis_url,
            socket_timeout=config.ready_timeout,
            connect_timeout=config.ready_timeout,
        )
        return cls(
            config=config,
            resque=resque,
            idempotent=IdempotentPush(
                client, resque.keys, config.idempotency_ttl, config.status_ttl
            ),
            ready_client=ready_client,
        )


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION]
    return found
