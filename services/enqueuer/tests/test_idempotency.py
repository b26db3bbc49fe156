"""Idempotency-Key: a retry gets the first answer back and enqueues nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis
from flask.testing import FlaskClient

from resque_proto import Resque
from resque_proto.text import texts

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def with_key(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


def test_a_retry_returns_the_first_answer_and_enqueues_once(
    client: FlaskClient, queued: Any
) -> None:
    first = client.post("/jobs", json=JOB, headers=with_key("order-1"))
    again = client.post("/jobs", json=JOB, headers=with_key("order-1"))

    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(queued("file_serve")) == 1


def test_a_batch_retry_enqueues_nothing_more(client: FlaskClient, queued: Any) -> None:
    batch = {"jobs": [JOB, {**JOB, "queue": "other"}]}

    first = client.post("/jobs/batch", json=batch, headers=with_key("b-1"))
    again = client.post("/jobs/batch", json=batch, headers=with_key("b-1"))

    assert again.get_json() == first.get_json()
    assert len(queued("file_serve")) == len(queued("other")) == 1


def test_different_keys_enqueue_separately(client: FlaskClient, queued: Any) -> None:
    client.post("/jobs", json=JOB, headers=with_key("k-1"))
    client.post("/jobs", json=JOB, headers=with_key("k-2"))

    assert len(queued("file_serve")) == 2


def test_reusing_a_key_for_another_request_is_a_409(client: FlaskClient, queued: Any) -> None:
    client.post("/jobs", json=JOB, headers=with_key("k"))

    reused = client.post("/jobs", json={**JOB, "args": [45]}, headers=with_key("k"))
    other_endpoint = client.post("/jobs/batch", json={"jobs": [JOB]}, headers=with_key("k"))

    assert reused.status_code == other_endpoint.status_code == 409
    assert reused.get_json()["type"].endswith("idempotency-key-reused")
    assert len(queued("file_serve")) == 1


def test_keys_are_scoped_per_token(make_app: Any, queued: Any) -> None:
    client = make_app(tokens=("alice", "bob")).test_client()

    for token in ("alice", "bob"):
        headers = with_key("same", Authorization=f"Bearer {token}")
        assert client.post("/jobs", json=JOB, headers=headers).status_code == 202

    assert len(queued("file_serve")) == 2


def test_the_record_expires_after_the_configured_window(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(idempotency_ttl=120).test_client()

    client.post("/jobs", json=JOB, headers=with_key("k"))

    [record] = redis_client.keys("resque:pyresque:idempotency:*")
    assert 0 < redis_client.ttl(record) <= 120


def test_an_invalid_request_stores_no_record(
    client: FlaskClient, redis_client: redis.Redis, queued: Any
) -> None:
    bad = client.post("/jobs", json={"queue": "q"}, headers=with_key("k"))
    good = client.post("/jobs", json=JOB, headers=with_key("k"))

    assert (bad.status_code, good.status_code) == (422, 202)
    assert len(queued("file_serve")) == 1


def test_an_unusable_key_is_a_400(client: FlaskClient, redis_client: redis.Redis) -> None:
    for key in ("x" * 256, "tab\there", "ключ"):
        response = client.post("/jobs", json=JOB, headers={"Idempotency-Key": key})
        assert response.status_code == 400, key
        assert response.mimetype == "application/problem+json"
    assert redis_client.keys("*") == []


def test_a_large_idempotent_batch_is_pushed_whole_and_in_order(make_app: Any, queued: Any) -> None:
    client = make_app(max_batch=2500, max_body_bytes=10_000_000).test_client()
    jobs = [{"queue": "big" if n % 3 else "side", "class": "A", "args": [n]} for n in range(2400)]

    answer = client.post("/jobs/batch", json={"jobs": jobs}, headers=with_key("big-1"))

    assert answer.status_code == 202
    ids = [job["id"] for job in answer.get_json()["jobs"]]
    stored = [json.loads(raw)["id"] for raw in queued("big")] + [
        json.loads(raw)["id"] for raw in queued("side")
    ]
    expected = [i for i, j in zip(ids, jobs, strict=True) if j["queue"] == "big"] + [
        i for i, j in zip(ids, jobs, strict=True) if j["queue"] == "side"
    ]
    assert stored == expected


def test_a_batch_that_redis_refuses_halfway_writes_nothing_and_keeps_the_key_free(
    client: FlaskClient, queued: Any, redis_client: redis.Redis
) -> None:
    redis_client.set("resque:queue:other", "not a list")
    batch = {"jobs": [JOB, {**JOB, "queue": "other"}]}

    refused = client.post("/jobs/batch", json=batch, headers=with_key("b-2"))

    assert refused.status_code == 503
    assert queued("file_serve") == [] and redis_client.keys("resque:pyresque:*") == []
    redis_client.delete("resque:queue:other")
    retried = client.post("/jobs/batch", json=batch, headers=with_key("b-2"))
    assert retried.status_code == 202 and "Idempotent-Replayed" not in retried.headers
    assert len(queued("file_serve")) == len(queued("other")) == 1


def test_a_delayed_job_retry_returns_the_first_answer_and_files_it_once(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    delayed = {**JOB, "delay_seconds": 3600}

    first = client.post("/jobs", json=delayed, headers=with_key("later-1"))
    again = client.post("/jobs", json=delayed, headers=with_key("later-1"))

    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    answer = first.get_json()
    second = due_second(answer["scheduled_for"])
    schedule = Resque(redis_client).delayed
    assert schedule.timestamps() == [(second, 1)]
    [payload] = schedule.jobs_at(second)
    assert payload == (
        f'{{"class":"Archive","args":[44],"id":"{answer["id"]}","queue":"file_serve"}}'
    )
    assert texts(redis_client.smembers(f"resque:timestamps:{payload}")) == [f"delayed:{second}"]


def test_a_mixed_batch_retry_writes_each_kind_once(
    client: FlaskClient, redis_client: redis.Redis, queued: Any
) -> None:
    batch = {"jobs": [JOB, {**JOB, "delay_seconds": 60}, {**JOB, "delay_seconds": 7200}]}

    first = client.post("/jobs/batch", json=batch, headers=with_key("mixed-1"))
    again = client.post("/jobs/batch", json=batch, headers=with_key("mixed-1"))

    assert again.get_json() == first.get_json()
    assert len(queued("file_serve")) == 1
    assert redis_client.zcard("resque:delayed_queue_schedule") == 2
    delayed = [job for job in first.get_json()["jobs"] if "scheduled_for" in job]
    for job in delayed:
        assert redis_client.llen(f"resque:delayed:{due_second(job['scheduled_for'])}") == 1


def test_a_large_idempotent_delayed_batch_is_filed_whole_and_in_order(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(max_batch=2500, max_body_bytes=10_000_000).test_client()
    jobs = [{"queue": "big", "class": "A", "args": [n], "delay_seconds": 3600} for n in range(2400)]

    answer = client.post("/jobs/batch", json={"jobs": jobs}, headers=with_key("big-later"))

    assert answer.status_code == 202
    answered = answer.get_json()["jobs"]
    second = due_second(answered[0]["scheduled_for"])
    filed = Resque(redis_client).delayed.jobs_at(second, count=5000)
    assert [json.loads(raw)["id"] for raw in filed] == [job["id"] for job in answered]
    assert redis_client.scard(f"resque:timestamps:{filed[-1]}") == 1


def test_a_mixed_batch_that_redis_refuses_writes_nothing_and_keeps_the_key_free(
    client: FlaskClient, queued: Any, redis_client: redis.Redis
) -> None:
    redis_client.set("resque:delayed_queue_schedule", "not a sorted set")
    batch = {"jobs": [JOB, {**JOB, "delay_seconds": 60}]}

    refused = client.post("/jobs/batch", json=batch, headers=with_key("b-3"))

    assert refused.status_code == 503
    assert redis_client.keys("*") == [b"resque:delayed_queue_schedule"]
    redis_client.delete("resque:delayed_queue_schedule")
    retried = client.post("/jobs/batch", json=batch, headers=with_key("b-3"))
    assert retried.status_code == 202 and "Idempotent-Replayed" not in retried.headers
    assert len(queued("file_serve")) == 1
    assert redis_client.zcard("resque:delayed_queue_schedule") == 1


def test_a_delayed_job_with_a_queue_of_the_wrong_type_in_its_batch_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    redis_client.set("resque:queue:other", "not a list")
    batch = {"jobs": [{**JOB, "delay_seconds": 60}, {**JOB, "queue": "other"}]}

    refused = client.post("/jobs/batch", json=batch, headers=with_key("b-4"))

    assert refused.status_code == 503
    assert redis_client.keys("*") == [b"resque:queue:other"]


def due_second(scheduled_for: str) -> int:
    moment = datetime.strptime(scheduled_for, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp())
