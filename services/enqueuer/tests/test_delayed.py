"""Delayed jobs over HTTP: ``run_at`` and ``delay_seconds`` write resque-scheduler's layout."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from redis_runner.server import RedisServer
from resque_proto import Resque
from resque_proto.text import texts

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}
MAX_DELAY = 5 * 365 * 24 * 3600


def problem_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return {item["field"]: item["message"] for item in response.get_json()["errors"]}


def rfc3339(epoch: float, suffix: str = "Z") -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix


def second_of(scheduled_for: str) -> int:
    return int(
        datetime.strptime(scheduled_for, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )


def delayed_payload(job_id: str) -> str:
    return f'{{"class":"Archive","args":[44],"id":"{job_id}","queue":"file_serve"}}'


def assert_filed(redis_client: redis.Redis, second: int, payloads: list[str]) -> None:
    """Exactly resque-scheduler's keys (the schedule, one list, one set per payload), and
    our ``scheduled`` status of each job."""
    schedule = redis_client.zrange("resque:delayed_queue_schedule", 0, -1, withscores=True)
    assert schedule == [(str(second).encode(), float(second))]
    assert redis_client.lrange(f"resque:delayed:{second}", 0, -1) == [p.encode() for p in payloads]
    statuses = {f"resque:pyresque:status:{json.loads(payload)['id']}" for payload in payloads}
    for payload in payloads:
        members = redis_client.smembers(f"resque:timestamps:{payload}")
        assert members == {f"delayed:{second}".encode()}
    for key in statuses:
        status = json.loads(redis_client.get(key) or "{}")
        assert (status["state"], status["scheduled_for"]) == ("scheduled", second)
    expected = {"resque:delayed_queue_schedule", f"resque:delayed:{second}", *statuses}
    expected |= {f"resque:timestamps:{payload}" for payload in payloads}
    assert set(texts(redis_client.keys("*"))) == expected


def test_delay_seconds_files_the_job_in_resque_schedulers_layout(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    before = time.time()
    response = client.post("/jobs", json={**JOB, "delay_seconds": 3600.5})
    after = time.time()

    assert response.status_code == 202
    answer = response.get_json()
    assert set(answer) == {"queue", "class", "args", "id", "scheduled_for"}
    assert (answer["queue"], answer["class"], answer["args"]) == ("file_serve", "Archive", [44])
    second = second_of(answer["scheduled_for"])
    assert math.ceil(before + 3600.5) <= second <= math.ceil(after + 3600.5)
    assert_filed(redis_client, second, [delayed_payload(answer["id"])])


@pytest.mark.parametrize(
    ("suffix", "rounded_up"),
    [
        ("Z", 0),
        ("z", 0),
        ("+00:00", 0),
        (".000001Z", 1),
        (".0000001Z", 1),
        (".5+00:00", 1),
        (".000000000Z", 0),
    ],
)
def test_run_at_files_the_job_under_its_second_rounded_up(
    client: FlaskClient, redis_client: redis.Redis, suffix: str, rounded_up: int
) -> None:
    second = int(time.time()) + 86400

    response = client.post("/jobs", json={**JOB, "run_at": rfc3339(second, suffix)})

    answer = response.get_json()
    assert answer["scheduled_for"] == rfc3339(second + rounded_up)
    assert_filed(redis_client, second + rounded_up, [delayed_payload(answer["id"])])


def test_run_at_with_a_zone_offset_is_that_instant(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    second = int(time.time()) + 86400
    local = datetime.fromtimestamp(second, UTC) + timedelta(hours=5, minutes=30)

    response = client.post(
        "/jobs", json={**JOB, "run_at": local.strftime("%Y-%m-%dT%H:%M:%S+05:30")}
    )

    assert response.get_json()["scheduled_for"] == rfc3339(second)
    assert redis_client.zrange("resque:delayed_queue_schedule", 0, -1) == [str(second).encode()]


@pytest.mark.parametrize(
    "timing",
    [
        {"run_at": "2020-01-01T00:00:00Z"},
        {"run_at": "1970-01-01T00:00:00Z"},
        {"delay_seconds": 0},
    ],
)
def test_a_time_not_in_the_future_enqueues_at_once(
    client: FlaskClient, redis_client: redis.Redis, queued: Any, timing: dict[str, Any]
) -> None:
    response = client.post("/jobs", json={**JOB, **timing})

    assert response.status_code == 202
    answer = response.get_json()
    assert set(answer) == {"queue", "class", "args", "id", "enqueued_at"}
    [raw] = queued("file_serve")
    assert json.loads(raw) == {
        "class": "Archive",
        "args": [44],
        "id": answer["id"],
        "enqueued_at": answer["enqueued_at"],
    }
    assert redis_client.exists("resque:delayed_queue_schedule") == 0


def test_run_at_just_past_in_the_current_second_enqueues_at_once(
    client: FlaskClient, queued: Any
) -> None:
    just_past = datetime.now(UTC) - timedelta(milliseconds=1)

    response = client.post("/jobs", json={**JOB, "run_at": just_past.isoformat()})

    assert "enqueued_at" in response.get_json()
    assert len(queued("file_serve")) == 1


def in_the_future(seconds: float) -> str:
    return rfc3339(time.time() + seconds)


@pytest.mark.parametrize(
    ("timing", "field", "message"),
    [
        ({"run_at": "tomorrow"}, "run_at", "is not an RFC 3339 timestamp"),
        ({"run_at": "2026-12-02T10:00:00"}, "run_at", "has no zone offset"),
        ({"run_at": "2026-12-02"}, "run_at", "is not an RFC 3339 timestamp"),
        ({"run_at": "2026-12-02 10:00:00Z"}, "run_at", "is not an RFC 3339 timestamp"),
        ({"run_at": "2026-12-02T10:00:00+24:00"}, "run_at", "is not an RFC 3339 timestamp"),
        ({"run_at": "٢٠٢٦-12-02T10:00:00Z"}, "run_at", "is not an RFC 3339 timestamp"),
        ({"run_at": "2026-02-30T10:00:00Z"}, "run_at", "is not a valid time"),
        ({"run_at": "2026-12-31T23:59:60Z"}, "run_at", "is not a valid time"),
        ({"run_at": 1796205600}, "run_at", "must be an RFC 3339 timestamp string"),
        ({"run_at": None}, "run_at", "must be an RFC 3339 timestamp string"),
        ({"run_at": "1969-12-31T23:59:59Z"}, "run_at", "is before 1970"),
        ({"run_at": "1970-01-01T00:30:00+01:00"}, "run_at", "is before 1970"),
        ({"run_at": "9999-12-31T23:59:59Z"}, "run_at", "ENQUEUER_MAX_DELAY"),
        ({"delay_seconds": True}, "delay_seconds", "must be a number"),
        ({"delay_seconds": "60"}, "delay_seconds", "must be a number"),
        ({"delay_seconds": None}, "delay_seconds", "must be a number"),
        ({"delay_seconds": -1}, "delay_seconds", "must not be negative"),
        ({"delay_seconds": -0.001}, "delay_seconds", "must not be negative"),
        ({"delay_seconds": MAX_DELAY + 1}, "delay_seconds", "ENQUEUER_MAX_DELAY"),
        ({"delay_seconds": 10**400}, "delay_seconds", "ENQUEUER_MAX_DELAY"),
        (
            {"run_at": "2020-01-01T00:00:00Z", "delay_seconds": 5},
            "delay_seconds",
            "cannot be given with run_at",
        ),
    ],
)
def test_absurd_times_are_a_422_naming_the_field(
    client: FlaskClient,
    redis_client: redis.Redis,
    timing: dict[str, Any],
    field: str,
    message: str,
) -> None:
    errors = problem_fields(client.post("/jobs", json={**JOB, **timing}))

    assert message in errors[field]
    assert redis_client.keys("*") == []


def test_run_at_past_the_horizon_is_a_422(client: FlaskClient, redis_client: redis.Redis) -> None:
    errors = problem_fields(
        client.post("/jobs", json={**JOB, "run_at": in_the_future(MAX_DELAY + 60)})
    )

    assert errors == {"run_at": f"is more than {MAX_DELAY} seconds ahead (ENQUEUER_MAX_DELAY)"}
    assert redis_client.keys("*") == []


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_infinite_delays_are_a_422(
    client: FlaskClient, redis_client: redis.Redis, number: str
) -> None:
    data = '{"queue": "q", "class": "A", "delay_seconds": ' + number + "}"

    errors = problem_fields(client.post("/jobs", data=data, content_type="application/json"))

    assert set(errors) == {"delay_seconds"}
    assert redis_client.keys("*") == []


def test_nan_is_not_json_so_it_is_a_400(client: FlaskClient) -> None:
    data = '{"queue": "q", "class": "A", "delay_seconds": NaN}'

    response = client.post("/jobs", data=data, content_type="application/json")

    assert response.status_code == 400


def test_the_horizon_is_configurable(make_app: Any, redis_client: redis.Redis) -> None:
    client = make_app(max_delay=60).test_client()

    errors = problem_fields(client.post("/jobs", json={**JOB, "delay_seconds": 61}))
    assert errors == {"delay_seconds": "is more than 60 seconds ahead (ENQUEUER_MAX_DELAY)"}
    assert client.post("/jobs", json={**JOB, "delay_seconds": 60}).status_code == 202
    assert redis_client.zcard("resque:delayed_queue_schedule") == 1


@pytest.mark.parametrize(
    "timing", [{"run_at": "9999-12-31T23:59:59-01:00"}, {"delay_seconds": 8000 * 365 * 86400}]
)
def test_times_after_the_year_9999_are_a_422_whatever_the_horizon(
    make_app: Any, timing: dict[str, Any]
) -> None:
    client = make_app(max_delay=10**12).test_client()

    errors = problem_fields(client.post("/jobs", json={**JOB, **timing}))

    assert list(errors.values()) == ["is after 9999-12-31T23:59:59Z"]


def test_a_bad_time_in_a_batch_names_the_item_and_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    jobs = [
        {**JOB, "delay_seconds": 60},
        JOB,
        {**JOB, "delay_seconds": -1},
        {**JOB, "run_at": "soon"},
        {**JOB, "run_at": in_the_future(60), "delay_seconds": 60},
    ]

    errors = problem_fields(client.post("/jobs/batch", json={"jobs": jobs}))

    assert set(errors) == {"jobs[2].delay_seconds", "jobs[3].run_at", "jobs[4].delay_seconds"}
    assert redis_client.keys("*") == []


def mixed_batch() -> list[dict[str, Any]]:
    return [
        {**JOB, "delay_seconds": 3600},
        {**JOB, "queue": "mail", "class": "Newsletter"},
        {**JOB, "args": [45], "delay_seconds": 3600},
        {**JOB, "queue": "mail", "class": "Newsletter", "run_at": "2020-01-01T00:00:00Z"},
    ]


def test_a_mixed_batch_writes_both_kinds_in_order(
    client: FlaskClient, redis_client: redis.Redis, queued: Any
) -> None:
    response = client.post("/jobs/batch", json={"jobs": mixed_batch()})

    assert response.status_code == 202
    answered = response.get_json()["jobs"]
    assert ["scheduled_for" in job for job in answered] == [True, False, True, False]
    assert [json.loads(raw)["id"] for raw in queued("mail")] == [
        answered[1]["id"],
        answered[3]["id"],
    ]
    assert redis_client.smembers("resque:queues") == {b"mail"}
    second = second_of(answered[0]["scheduled_for"])
    assert answered[2]["scheduled_for"] == answered[0]["scheduled_for"]
    filed = redis_client.lrange(f"resque:delayed:{second}", 0, -1)
    assert [json.loads(raw)["id"] for raw in filed] == [answered[0]["id"], answered[2]["id"]]
    assert redis_client.zrange("resque:delayed_queue_schedule", 0, -1) == [str(second).encode()]


def test_a_mixed_batch_that_redis_refuses_writes_nothing(make_app: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    admin = redis.Redis.from_url(server.url)
    client = make_app(redis_url=server.url).test_client()
    admin.config_set("maxmemory", "1")  # with noeviction: every write is refused (OOM)
    try:
        refused = client.post("/jobs/batch", json={"jobs": mixed_batch()})
    finally:
        admin.config_set("maxmemory", "0")

    assert refused.status_code == 503
    assert admin.keys("*") == []
    admin.close()


def test_a_delayed_job_is_due_as_an_ordinary_resque_payload(
    client: FlaskClient, redis_client: redis.Redis, queued: Any
) -> None:
    answer = client.post("/jobs", json={**JOB, "delay_seconds": 3600}).get_json()

    moved = Resque(redis_client).delayed.run_now(second_of(answer["scheduled_for"]))

    assert moved == 1
    [raw] = queued("file_serve")
    assert raw.startswith(f'{{"class":"Archive","args":[44],"id":"{answer["id"]}","enqueued_at":')
    assert redis_client.keys("resque:delayed*") == redis_client.keys("resque:timestamps:*") == []


def test_metrics_count_delayed_jobs_in_both_counters(client: FlaskClient) -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    enqueued, scheduled = (
        sample("resque_enqueuer_jobs_enqueued_total"),
        sample("resque_enqueuer_jobs_scheduled_total"),
    )

    client.post("/jobs/batch", json={"jobs": mixed_batch()})

    assert sample("resque_enqueuer_jobs_enqueued_total") == enqueued + 4
    assert sample("resque_enqueuer_jobs_scheduled_total") == scheduled + 2
    assert "resque_enqueuer_jobs_scheduled_total" in client.get("/metrics").get_data(as_text=True)
