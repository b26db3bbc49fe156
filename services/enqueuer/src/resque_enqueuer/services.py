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
from resque_enqueuer.replication import ReplicaWait
from resque_enqueuer.writes import JobPush
from resque_proto import Resque, connect

EXTENSION = "resque_enqueuer"


@dataclass(frozen=True)
class Services:
    config: Config
    resque: Resque
    push: JobPush
    ready_client: redis.Redis
    replica_wait: ReplicaWait | None = None  # ENQUEUER_MIN_REPLICAS > 0

    @classmethod
    def build(cls, config: Config) -> Services:
        waiting = config.min_replicas_timeout if config.min_replicas else 0.0
        client = connect(
            config.redis or config.redis_url,
            socket_timeout=config.redis_timeout + waiting,  # WAIT's reply comes after its timeout
            connect_timeout=config.redis_timeout,
        )
        resque = Resque(client, config.namespace, status_ttl=config.status_ttl)
        ready_client = connect(
            config.redis or config.redis_url,
            socket_timeout=config.ready_timeout,
            connect_timeout=config.ready_timeout,
        )
        wait = (
            ReplicaWait(config.min_replicas, config.min_replicas_timeout, config.retry_after)
            if config.min_replicas
            else None
        )
        return cls(
            config=config,
            resque=resque,
            push=JobPush(client, resque.keys, config.status_ttl, wait),
            ready_client=ready_client,
            replica_wait=wait,
        )


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION]
    return found
