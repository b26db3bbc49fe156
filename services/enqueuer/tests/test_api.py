"""The API surface through Flask's test client, on a real Redis."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from resque_proto.payload import decode_payload

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["title"] and body["type"]
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [item["field"] for item in body["errors"]]


def test_enqueue_stores_a_resque_payload_and_answers_the_stored_job(
    client: FlaskClient, queued: Any
) -> None:
    response = client.post("/jobs", json=JOB)

    assert response.status_code == 202
    answer = response.get_json()
    assert set(answer) == {"queue", "class", "args", "id", "enqueued_at"}
    [raw] = queued("file_serve")
    assert raw.startswith('{"class":"Archive","args":[44],"id":"')
    job = decode_payload(raw)
    assert job.as_dict() == {k: v for k, v in answer.items() if k != "queue"}
    assert answer["queue"] == "file_serve"


def test_args_default_to_an_empty_list(client: FlaskClient, queued: Any) -> None:
    response = client.post("/jobs", json={"queue": "q", "class": "Billing::Invoice"})

    assert response.status_code == 202
    assert decode_payload(queued("q")[0]).args == []


def test_queue_is_registered_in_the_queues_set(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    client.post("/jobs", json=JOB)

    assert redis_client.smembers("resque:queues") == {b"file_serve"}


def test_payload_bytes_are_rubys_for_unicode_and_floats(client: FlaskClient, queued: Any) -> None:
    client.post("/jobs", json={"queue": "q", "class": "A", "args": ["café ☕", 1e20, 0.5]})

    assert queued("q")[0].startswith('{"class":"A","args":["café ☕",1.0e+20,0.5],')


def test_a_batch_is_written_in_order_and_answered_in_order(
    client: FlaskClient, queued: Any
) -> None:
    jobs = [{"queue": "a" if i % 2 else "b", "class": "Archive", "args": [i]} for i in range(10)]

    response = client.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 202
    answered = response.get_json()["jobs"]
    assert [(j["queue"], j["args"]) for j in answered] == [(j["queue"], j["args"]) for j in jobs]
    assert [decode_payload(p).args for p in queued("a")] == [[1], [3], [5], [7], [9]]
    assert [decode_payload(p).extras["id"] for p in queued("b")] == [
        j["id"] for j in answered if j["queue"] == "b"
    ]


def test_an_invalid_batch_names_every_bad_item_and_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    jobs = [JOB, {"queue": "", "class": "Archive"}, {"queue": "q", "class": "1x", "args": 3}, 7]

    body = problem(client.post("/jobs/batch", json={"jobs": jobs}), 422)

    assert fields(body) == ["jobs[1].queue", "jobs[2].class", "jobs[2].args", "jobs[3]"]
    assert redis_client.keys("*") == []


def test_a_batch_over_the_maximum_is_refused(make_app: Any, redis_client: redis.Redis) -> None:
    client = make_app(max_batch=3).test_client()

    body = problem(client.post("/jobs/batch", json={"jobs": [JOB] * 4}), 422)

    assert fields(body) == ["jobs"]
    assert "ENQUEUER_MAX_BATCH" in body["errors"][0]["message"]
    assert redis_client.keys("*") == []


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"queue": "q", "class": "A", "priority": 1}, "priority"),
        ({"class": "A"}, "queue"),
        ({"queue": "q"}, "class"),
        ({"queue": 5, "class": "A"}, "queue"),
        ({"queue": "no spaces", "class": "A"}, "queue"),
        ({"queue": "q", "class": ["A"]}, "class"),
        ({"queue": "q", "class": "A", "args": {"a": 1}}, "args"),
        ({"queue": "q", "class": "A", "args": "44"}, "args"),
        ({"queue": "q", "class": "A", "args": ["\ud800"]}, "args[0]"),
        ([JOB], "body"),
        ("text", "body"),
    ],
)
def test_invalid_fields_are_named_in_a_422(
    client: FlaskClient, redis_client: redis.Redis, document: Any, field: str
) -> None:
    body = problem(client.post("/jobs", json=document), 422)

    assert field in fields(body)
    assert redis_client.keys("*") == []


def test_batch_document_shape_errors(client: FlaskClient) -> None:
    assert fields(problem(client.post("/jobs/batch", json={}), 422)) == ["jobs"]
    assert fields(problem(client.post("/jobs/batch", json={"jobs": {}}), 422)) == ["jobs"]
    assert fields(problem(client.post("/jobs/batch", json={"jobs": []}), 422)) == ["jobs"]
    extra = problem(client.post("/jobs/batch", json={"jobs": [JOB], "x": 1}), 422)
    assert fields(extra) == ["x"]


@pytest.mark.parametrize(
    "data", [b"{", b"", b"NaN", b'{"queue": "q",}', b"\xff\xfe{", b"[" * 100000]
)
def test_invalid_json_is_a_400(client: FlaskClient, data: bytes) -> None:
    body = problem(client.post("/jobs", data=data, content_type="application/json"), 400)

    assert "JSON" in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415(client: FlaskClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    problem(client.post("/jobs", data=json.dumps(JOB), headers=headers), 415)


def test_json_with_a_charset_parameter_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/jobs", data=json.dumps(JOB), content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 202


def test_a_body_over_the_limit_is_a_413_and_writes_nothing(
    make_app: Any, redis_client: redis.Redis
) -> None:
    client = make_app(max_body_bytes=100).test_client()
    big = {"queue": "q", "class": "A", "args": ["x" * 200]}

    body = problem(client.post("/jobs", json=big), 413)

    assert body["max_body_bytes"] == 100
    assert redis_client.keys("*") == []


def test_deeply_nested_args_are_refused_not_crashed(client: FlaskClient) -> None:
    depth = 50000
    data = '{"queue":"q","class":"A","args":' + "[" * depth + "]" * depth + "}"

    response = client.post("/jobs", data=data, content_type="application/json")

    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    problem(client.get("/nope"), 404)
    problem(client.post("/jobs/"), 404)


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.get("/jobs")

    problem(response, 405)
    assert "POST" in response.headers["Allow"]
    problem(client.delete("/healthz"), 405)


def test_unexpected_exceptions_are_a_500_problem_with_the_request_id(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> str:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resque_enqueuer.jobs.encode_checked_payload", explode)

    response = client.post("/jobs", json=JOB, headers={"X-Request-Id": "req-42"})

    body = problem(response, 500)
    assert body["request_id"] == "req-42"
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert logged and "req-42" in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_request_ids_are_echoed_or_generated(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-1"}).headers["X-Request-Id"] == (
        "abc-1"
    )
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id\x01"})
    assert len(generated.headers["X-Request-Id"]) == 32


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_metrics_count_requests_by_route_and_status(client: FlaskClient) -> None:
    client.post("/jobs", json=JOB)
    client.get("/nope")

    text = client.get("/metrics").get_data(as_text=True)

    assert 'resque_enqueuer_http_requests_total{method="POST",route="/jobs",status="202"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "resque_enqueuer_http_request_duration_seconds_bucket" in text
    assert "resque_enqueuer_jobs_enqueued_total" in text
