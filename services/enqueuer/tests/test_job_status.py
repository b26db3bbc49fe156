"""Job status: written with every enqueue, read by ``GET /jobs/{id}``, on a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from redis_runner.server import RedisServer
from resque_proto import Resque
from resque_proto.payload import decode_json
from resque_proto.records import failure_record
from resque_proto.status import FAILED, SUCCEEDED

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}
WORKER = "host-1:4242:file_serve"


def status_key(job_id: str) -> str:
    return f"resque:pyresque:status:{job_id}"


def stored_status(redis_client: redis.Redis, job_id: str) -> dict[str, Any]:
    raw = redis_client.get(status_key(job_id))
    assert raw is not None, f"no status for {job_id}"
    body: dict[str, Any] = json.loads(raw)
    return body


def get_status(client: FlaskClient, job_id: str, **headers: str) -> dict[str, Any]:
    response = client.get(f"/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def unknown(response: Any) -> dict[str, Any]:
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert body["type"] == "tag:resque-py,2026:problem:unknown-job"
    assert (body["status"], body["state"]) == (404, "unknown")
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def due_second(scheduled_for: str) -> int:
    moment = datetime.strptime(scheduled_for, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp())


# -- written on enqueue ----------------------------------------------------------------


def test_an_enqueued_job_is_queued_with_the_default_expiry(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    before = time.time()
    answer = client.post("/jobs", json=JOB).get_json()

    status = stored_status(redis_client, answer["id"])
    assert status == {
        "id": answer["id"],
        "state": "queued",
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": status["updated_at"],
    }
    assert before - 1 <= status["updated_at"] <= time.time() + 1
    assert 86_400 - 60 < redis_client.ttl(status_key(answer["id"])) <= 86_400


def test_the_answer_is_the_stored_json_byte_for_byte(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = client.post("/jobs", json=JOB).get_json()

    response = client.get(f"/jobs/{answer['id']}")

    assert response.get_data() == redis_client.get(status_key(answer["id"]))
    assert get_status(client, answer["id"])["state"] == "queued"


def test_a_delayed_job_is_scheduled_for_its_second(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = client.post("/jobs", json={**JOB, "delay_seconds": 3600}).get_json()

    status = get_status(client, answer["id"])

    assert (status["id"], status["state"], status["queue"]) == (
        answer["id"],
        "scheduled",
        JOB["queue"],
    )
    assert status["scheduled_for"] == due_second(answer["scheduled_for"])
    assert isinstance(status["scheduled_for"], int)
    assert 0 < redis_client.ttl(status_key(answer["id"])) <= 86_400


def test_a_delayed_job_becomes_queued_when_the_scheduler_moves_it(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = client.post("/jobs", json={**JOB, "delay_seconds": 3600}).get_json()

    Resque(redis_client).delayed.run_now(due_second(answer["scheduled_for"]))

    assert get_status(client, answer["id"])["state"] == "queued"


def test_every_job_of_a_mixed_batch_gets_its_status(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    jobs = [JOB, {**JOB, "queue": "mail", "delay_seconds": 60}, {**JOB, "class": "Purge"}]

    answered = client.post("/jobs/batch", json={"jobs": jobs}).get_json()["jobs"]

    states = [stored_status(redis_client, job["id"]) for job in answered]
    assert [(s["state"], s["queue"], s["class"]) for s in states] == [
        ("queued", "file_serve", "Archive"),
        ("scheduled", "mail", "Archive"),
        ("queued", "file_serve", "Purge"),
    ]
    assert states[1]["scheduled_for"] == due_second(answered[1]["scheduled_for"])
    assert len(redis_client.keys(status_key("*"))) == 3


def test_the_idempotent_path_writes_statuses_in_its_script_once(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(status_ttl=120).test_client()
    batch = {"jobs": [JOB, {**JOB, "delay_seconds": 60}, {**JOB, "delay_seconds": 7200}]}
    headers = {"Idempotency-Key": "with-status"}

    first = client.post("/jobs/batch", json=batch, headers=headers).get_json()["jobs"]
    written = {job["id"]: redis_client.get(status_key(job["id"])) for job in first}
    again = client.post("/jobs/batch", json=batch, headers=headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert [stored_status(redis_client, job["id"])["state"] for job in first] == [
        "queued",
        "scheduled",
        "scheduled",
    ]
    assert {job_id: redis_client.get(status_key(job_id)) for job_id in written} == written
    for job in first:
        assert 0 < redis_client.ttl(status_key(job["id"])) <= 120
    assert len(redis_client.keys(status_key("*"))) == 3


def test_a_single_idempotent_job_gets_its_status(client: FlaskClient) -> None:
    answer = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "one"}).get_json()

    assert get_status(client, answer["id"])["state"] == "queued"


def test_the_expiry_is_configurable(make_app: Any, redis_client: redis.Redis) -> None:
    client = make_app(status_ttl=30).test_client()

    answer = client.post("/jobs", json=JOB).get_json()

    assert 0 < redis_client.ttl(status_key(answer["id"])) <= 30


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "off"}])
def test_no_status_is_written_when_the_expiry_is_0(
    make_app: Any, redis_client: redis.Redis, headers: dict[str, str]
) -> None:
    client = make_app(status_ttl=0).test_client()
    batch = {"jobs": [JOB, {**JOB, "delay_seconds": 60}]}

    answered = client.post("/jobs/batch", json=batch, headers=headers).get_json()["jobs"]

    assert redis_client.keys(status_key("*")) == []
    assert redis_client.llen("resque:queue:file_serve") == 1
    assert redis_client.zcard("resque:delayed_queue_schedule") == 1
    unknown(client.get(f"/jobs/{answered[0]['id']}"))


def test_a_status_key_of_the_wrong_type_makes_the_idempotent_write_refuse_whole(
    client: FlaskClient, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = uuid.UUID(int=7).hex
    redis_client.rpush(status_key(taken), "not a status")
    monkeypatch.setattr(
        "resque_enqueuer.jobs.new_job_metadata",
        lambda: {"id": taken, "enqueued_at": round(time.time(), 6)},
    )

    refused = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "guarded"})

    assert refused.status_code == 503
    assert redis_client.keys("*") == [status_key(taken).encode()]


# -- states the worker writes, read back over HTTP --------------------------------------


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    return Resque(redis_client, "resque", status_ttl=600)


def test_running_succeeded_and_failed_as_the_worker_writes_them(
    client: FlaskClient, resque: Resque
) -> None:
    ok, bad = (client.post("/jobs", json=JOB).get_json()["id"] for _ in range(2))

    held = resque.jobs.reserve(WORKER, ["file_serve"])
    assert held is not None
    running = get_status(client, ok)
    assert (running["state"], running["worker"], running["queue"]) == (
        "running",
        WORKER,
        "file_serve",
    )
    assert running["started_at"] == pytest.approx(time.time(), abs=30)
    done = resque.jobs.status_of(held.queue, held.payload, SUCCEEDED, duration=0.25)
    assert resque.jobs.finish(WORKER, held, 0.25, status=done)
    succeeded = get_status(client, ok)
    assert (succeeded["state"], succeeded["duration"]) == ("succeeded", 0.25)

    held = resque.jobs.reserve(WORKER, ["file_serve"])
    assert held is not None
    record = failure_record(
        payload=decode_json(held.payload),
        exception="OSError",
        error="disk full",
        backtrace=["jobs.py:12:in `perform'"],
        worker=WORKER,
        queue=held.queue,
    )
    failed = resque.jobs.status_of(held.queue, held.payload, FAILED, failure=decode_json(record))
    assert resque.jobs.finish(WORKER, held, 0.5, record, status=failed)
    status = get_status(client, bad)
    assert (status["id"], status["state"], status["class"]) == (bad, "failed", "Archive")
    assert status["failure"] == json.loads(record)
    assert status["failure"]["payload"]["id"] == bad


def test_a_real_worker_takes_the_job_to_succeeded_and_failed(
    client: FlaskClient, redis_url: str, tmp_path: Path
) -> None:
    ok = client.post("/jobs", json=JOB).get_json()["id"]
    bad = client.post("/jobs", json={**JOB, "class": "FailingArchive"}).get_json()["id"]
    assert get_status(client, ok)["state"] == "queued"

    run_worker(redis_url, tmp_path)

    succeeded = get_status(client, ok)
    assert succeeded["state"] == "succeeded" and succeeded["duration"] >= 0
    failed = get_status(client, bad)
    assert failed["state"] == "failed"
    assert failed["failure"]["exception"] == "resque_worker.examples.ArchiveError"
    assert failed["failure"]["payload"]["id"] == bad


def test_a_real_worker_honours_the_jobs_retry_object(
    client: FlaskClient, redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    flaky = {**JOB, "class": "FailingArchive", "retry": {"limit": 1, "delay": 0}}
    job_id = client.post("/jobs", json=flaky).get_json()["id"]

    run_worker(redis_url, tmp_path)  # attempt 1 fails: rescheduled, no failure record

    retry = get_status(client, job_id)
    assert (retry["state"], retry["attempt"]) == ("scheduled", 2)
    assert redis_client.llen("resque:failed") == 0
    Resque(redis_client).delayed.run_now(retry["scheduled_for"])
    assert get_status(client, job_id)["state"] == "queued"

    run_worker(redis_url, tmp_path)  # attempt 2, the last one, fails for good

    failed = get_status(client, job_id)
    assert (failed["state"], failed["attempt"], failed["failure"]["attempts"]) == ("failed", 2, 2)
    assert redis_client.llen("resque:failed") == 1


def run_worker(redis_url: str, tmp_path: Path) -> None:
    """One ``resque-worker`` in burst mode: it exits when ``file_serve`` is empty."""
    subprocess.run(
        [sys.executable, "-m", "resque_worker"],
        env={
            **os.environ,
            "REDIS_URL": redis_url,
            "QUEUES": "file_serve",
            "RESQUE_JOBS": "resque_worker.examples",
            "RESQUE_EXAMPLES_OUTPUT": str(tmp_path / "ran.jsonl"),
            "INTERVAL": "0",
        },
        check=True,
        timeout=120,
        capture_output=True,
    )


# -- unknown ids, auth, Redis down ------------------------------------------------------


@pytest.mark.parametrize(
    "job_id",
    [uuid.uuid4().hex, "batch", "x" * 128, "x" * 129, "x" * 5000, "café", "..."],
)
def test_an_id_without_a_status_is_a_404_unknown(client: FlaskClient, job_id: str) -> None:
    body = unknown(client.get(f"/jobs/{job_id}"))

    assert body["id"] == job_id


def test_a_ruby_producers_job_is_unknown(client: FlaskClient, redis_client: redis.Redis) -> None:
    Resque(redis_client, status_ttl=600).enqueue("file_serve", "Archive", 44, metadata=False)

    assert redis_client.keys(status_key("*")) == []
    unknown(client.get(f"/jobs/{uuid.uuid4().hex}"))


def test_an_expired_status_is_unknown(make_app: Any, redis_client: redis.Redis) -> None:
    client = make_app(status_ttl=1).test_client()
    job_id = client.post("/jobs", json=JOB).get_json()["id"]
    assert get_status(client, job_id)["state"] == "queued"

    redis_client.pexpire(status_key(job_id), 1)
    deadline = time.monotonic() + 10
    while redis_client.exists(status_key(job_id)) and time.monotonic() < deadline:
        time.sleep(0.01)

    unknown(client.get(f"/jobs/{job_id}"))


@pytest.mark.parametrize("value", [b"not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_a_stored_value_that_is_not_a_status_object_is_unknown(
    client: FlaskClient, redis_client: redis.Redis, value: bytes
) -> None:
    redis_client.set(status_key("odd"), value)

    unknown(client.get("/jobs/odd"))


def test_a_status_key_of_another_type_is_unknown(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    redis_client.rpush(status_key("listy"), "x")

    unknown(client.get("/jobs/listy"))


def test_only_get_is_allowed(client: FlaskClient) -> None:
    response = client.post(f"/jobs/{uuid.uuid4().hex}", json=JOB)

    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic c2VjcmV0"},
        {"Authorization": "Bearer wrong"},
    ],
)
def test_the_status_needs_the_token_when_tokens_are_configured(
    make_app: Any, headers: dict[str, str]
) -> None:
    client = make_app(tokens=("s3cret",)).test_client()
    job_id = client.post("/jobs", json=JOB, headers={"Authorization": "Bearer s3cret"}).get_json()[
        "id"
    ]

    refused = client.get(f"/jobs/{job_id}", headers=headers)
    refused_unknown = client.get(f"/jobs/{uuid.uuid4().hex}", headers=headers)

    for response in (refused, refused_unknown):
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert get_status(client, job_id, Authorization="Bearer s3cret")["id"] == job_id


def test_without_tokens_the_status_is_open(client: FlaskClient) -> None:
    job_id = client.post("/jobs", json=JOB).get_json()["id"]

    assert get_status(client, job_id)["id"] == job_id


def test_redis_down_is_a_503(make_app: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    client = make_app(redis_url=server.url, retry_after=4).test_client()
    job_id = client.post("/jobs", json=JOB).get_json()["id"]

    server.kill(graceful=True)  # SIGTERM: the acknowledged job is on disk when it returns
    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "4"
    server.start()
    assert get_status(client, job_id)["state"] == "queued"


def test_metrics_label_the_route_template_not_the_id(client: FlaskClient) -> None:
    client.get(f"/jobs/{uuid.uuid4().hex}")

    text = client.get("/metrics").get_data(as_text=True)

    assert 'method="GET",route="/jobs/<job_id>",status="404"' in text
