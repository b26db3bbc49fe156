"""ENQUEUER_MIN_REPLICAS: 202 only once replicas have the jobs, else 503 replication-timeout.

Real primary and replica processes; the replica is stopped to make WAIT time out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from redis_runner.ha import ConfiguredRedis, wait_for
from resque_enqueuer.app import create_app
from resque_enqueuer.config import Config
from resque_enqueuer.envvars import ConfigError

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}
LATER = {**JOB, "delay_seconds": 3600}
TIMEOUT_TYPE = "tag:resque-py,2026:problem:replication-timeout"


@pytest.fixture
def primary() -> Iterator[ConfiguredRedis]:
    with ConfiguredRedis() as server:
        yield server


@pytest.fixture
def replica(primary: ConfiguredRedis) -> Iterator[ConfiguredRedis]:
    with ConfiguredRedis(replica_of=primary) as server:
        client = redis.Redis(port=primary.port)
        assert wait_for(lambda: client.info("replication")["connected_slaves"] == 1, 10)
        assert wait_for(lambda: replicated(client), 10)
        client.delete("replication-check")
        yield server


def replicated(client: redis.Redis) -> bool:
    """A write the replica acknowledges: before the first write, WAIT counts a replica
    that is still loading the initial sync as in step (offsets both 0)."""
    client.set("replication-check", 1)
    return bool(client.wait(1, 100) == 1)


def app_client(primary: ConfiguredRedis, **overrides: Any) -> FlaskClient:
    settings: dict[str, Any] = {"min_replicas": 1, "min_replicas_timeout": 0.3, **overrides}
    config = replace(Config(redis_url=primary.url), **settings)
    app = create_app(config)
    app.testing = False
    return app.test_client()


def length(server: ConfiguredRedis, key: str) -> int:
    return int(redis.Redis(port=server.port).llen(key))


def test_every_write_path_answers_202_once_the_replica_has_it(
    primary: ConfiguredRedis, replica: ConfiguredRedis
) -> None:
    client = app_client(primary)
    assert client.post("/jobs", json=JOB).status_code == 202
    assert client.post("/jobs/batch", json={"jobs": [JOB, LATER]}).status_code == 202
    keyed = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "k1"})
    assert keyed.status_code == 202
    # WAIT returned 1: the replica has every job already, no polling needed
    assert length(replica, "resque:queue:file_serve") == 3
    assert redis.Redis(port=replica.port).zcard("resque:delayed_queue_schedule") == 1
    replayed = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "k1"})
    assert replayed.status_code == 202 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == keyed.get_json()


def test_no_replica_in_time_is_a_503_that_says_what_happened(
    primary: ConfiguredRedis, replica: ConfiguredRedis
) -> None:
    client = app_client(primary, retry_after=2)
    replica.kill()
    for path, document in (("/jobs", JOB), ("/jobs/batch", {"jobs": [JOB, LATER]})):
        for headers in ({}, {"Idempotency-Key": f"key-{path}"}):
            response = client.post(path, json=document, headers=headers)
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.mimetype == "application/problem+json"
            assert response.headers["Retry-After"] == "2"
            problem = json.loads(response.get_data(as_text=True))
            assert problem["type"] == TIMEOUT_TYPE
            assert problem["acknowledged_replicas"] == 0 and problem["required_replicas"] == 1
            assert "primary only" in problem["detail"]
            assert "same Idempotency-Key is safe" in problem["detail"]
    # the jobs are on the primary (written, just not confirmed by a replica)
    assert length(primary, "resque:queue:file_serve") == 4
    assert redis.Redis(port=primary.port).zcard("resque:delayed_queue_schedule") >= 1


def test_an_idempotent_retry_confirms_the_first_write_once_the_replica_is_back(
    primary: ConfiguredRedis, replica: ConfiguredRedis
) -> None:
    client = app_client(primary)
    replica.kill()
    first = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "once"})
    assert first.status_code == 503
    again = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "once"})
    assert again.status_code == 503  # the replay also waits for the replica

    replica.start()
    admin = redis.Redis(port=primary.port)
    assert wait_for(lambda: admin.info("replication")["connected_slaves"] == 1, 10)
    retried = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "once"})
    assert retried.status_code == 202 and retried.headers["Idempotent-Replayed"] == "true"
    assert length(primary, "resque:queue:file_serve") == 1  # enqueued once, not three times
    assert length(replica, "resque:queue:file_serve") == 1


def test_more_replicas_than_exist_is_a_503(
    primary: ConfiguredRedis, replica: ConfiguredRedis
) -> None:
    response = app_client(primary, min_replicas=2).post("/jobs", json=JOB)
    assert response.status_code == 503
    assert response.get_json()["acknowledged_replicas"] == 1


def test_zero_replicas_writes_without_waiting(primary: ConfiguredRedis) -> None:
    client = app_client(primary, min_replicas=0)
    assert client.post("/jobs", json=JOB).status_code == 202
    assert client.post("/jobs", json=JOB, headers={"Idempotency-Key": "z"}).status_code == 202
    assert length(primary, "resque:queue:file_serve") == 2


def test_the_settings() -> None:
    assert Config.from_env({}).min_replicas == 0
    config = Config.from_env(
        {"ENQUEUER_MIN_REPLICAS": "2", "ENQUEUER_MIN_REPLICAS_TIMEOUT": "0.25"}
    )
    assert (config.min_replicas, config.min_replicas_timeout) == (2, 0.25)
    for name, value in (
        ("ENQUEUER_MIN_REPLICAS", "-1"),
        ("ENQUEUER_MIN_REPLICAS", "one"),
        ("ENQUEUER_MIN_REPLICAS_TIMEOUT", "0"),
        ("ENQUEUER_MIN_REPLICAS_TIMEOUT", "soon"),
    ):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: value})
