"""Redis unreachable: a fast 503 with Retry-After, nothing written, recovery after."""

from __future__ import annotations

import os
import signal
from typing import Any

import redis

from redis_runner.server import RedisServer

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def test_redis_down_is_a_503_and_the_service_recovers(make_app: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    client = make_app(redis_url=server.url, retry_after=3).test_client()
    assert client.post("/jobs", json=JOB).status_code == 202

    server.kill(graceful=True)  # SIGTERM: the acknowledged job is on disk when it returns
    for path, document in (("/jobs", JOB), ("/jobs/batch", {"jobs": [JOB, JOB]})):
        for headers in ({}, {"Idempotency-Key": "retry-me"}):
            response = client.post(path, json=document, headers=headers)
            assert response.status_code == 503
            assert response.mimetype == "application/problem+json"
            assert response.headers["Retry-After"] == "3"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "3"
    assert client.get("/healthz").status_code == 200

    server.start()
    assert client.get("/readyz").status_code == 200
    retried = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "retry-me"})
    assert retried.status_code == 202
    after = redis.Redis.from_url(server.url)
    assert after.llen("resque:queue:file_serve") == 2
    after.close()


def test_a_hung_redis_is_a_503_after_the_timeout(make_app: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    assert server.process is not None
    client = make_app(redis_url=server.url, redis_timeout=0.3, ready_timeout=0.3).test_client()
    assert client.post("/jobs", json=JOB).status_code == 202

    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        hung = client.post("/jobs", json=JOB)
        not_ready = client.get("/readyz")
    finally:
        os.kill(server.process.pid, signal.SIGCONT)

    assert hung.status_code == not_ready.status_code == 503
    assert hung.headers["Retry-After"] == "1"
    # A push that timed out may still be carried out once Redis resumes (docs/api.md):
    # the client cannot tell, which is what Idempotency-Key is for.
    assert client.post("/jobs", json=JOB).status_code == 202


def test_redis_refusing_writes_is_a_503_and_nothing_is_written(
    make_app: Any, fresh_redis: Any
) -> None:
    server: RedisServer = fresh_redis()
    admin = redis.Redis.from_url(server.url)
    client = make_app(redis_url=server.url).test_client()
    admin.config_set("maxmemory", "1")  # with noeviction: every write is refused (OOM)
    try:
        refused = client.post("/jobs/batch", json={"jobs": [JOB, JOB]})
        keyed = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "k"})
    finally:
        admin.config_set("maxmemory", "0")

    assert refused.status_code == keyed.status_code == 503
    assert admin.keys("*") == []
    admin.close()
