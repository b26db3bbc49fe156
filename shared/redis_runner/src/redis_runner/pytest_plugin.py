"""Pytest fixtures: one real Redis per test run, flushed before each test.

``redis_server``: the session-wide server. ``redis_url`` / ``redis_client``:
flushed before every test. ``fresh_redis``: a factory of new servers for tests
that kill or restart Redis; each is stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from redis_runner.server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=10, retry_on_timeout=False)
    yield client
    client.close()


@pytest.fixture
def fresh_redis() -> Iterator[Callable[[], RedisServer]]:
    servers: list[RedisServer] = []

    def start() -> RedisServer:
        server = RedisServer(persistent=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
