"""A per-job ``retry`` object: validated, stored in the payload as sent, echoed back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from resque_proto import Resque
from resque_proto.payload import decode_payload
from resque_proto.retry import RetryPolicy, job_policy

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}
RETRY = {"limit": 3, "delay": 5, "backoff": "exponential", "retry_exceptions": ["OSError"]}
RETRY_BYTES = '"retry":{"limit":3,"delay":5,"backoff":"exponential","retry_exceptions":["OSError"]}'


def post(client: FlaskClient, path: str, document: Any, **headers: str) -> Any:
    """Send the members in this order (Flask's ``json=`` would sort them)."""
    return client.post(
        path, data=json.dumps(document), content_type="application/json", headers=headers
    )


def problem_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return {item["field"]: item["message"] for item in response.get_json()["errors"]}


def due_second(scheduled_for: str) -> int:
    moment = datetime.strptime(scheduled_for, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp())


def test_the_retry_object_is_stored_after_id_and_enqueued_at_and_echoed(
    client: FlaskClient, queued: Any
) -> None:
    answer = post(client, "/jobs", {**JOB, "retry": RETRY}).get_json()

    assert answer["retry"] == RETRY
    assert list(answer) == ["queue", "class", "args", "id", "enqueued_at", "retry"]
    [raw] = queued("file_serve")
    assert re.fullmatch(
        r'\{"class":"Archive","args":\[44\],"id":"[0-9a-f]{32}","enqueued_at":[0-9.]+,'
        + re.escape(RETRY_BYTES)
        + r"\}",
        raw,
    ), raw
    assert job_policy(decode_payload(raw)) == RetryPolicy(
        limit=3, delay=5.0, backoff="exponential", retry_exceptions=("OSError",)
    )


def test_the_object_is_stored_as_sent_member_order_and_numbers_included(
    client: FlaskClient, queued: Any
) -> None:
    data = (
        '{"queue": "file_serve", "class": "Archive", "args": [44], "retry": '
        '{"fatal_exceptions": ["mypkg.errors.BadInput", "café.Error"], "backoff": [1, 10.5, 1e3], '
        '"limit": 2, "delay": 0.25}}'
    )

    answer = client.post("/jobs", data=data, content_type="application/json").get_json()

    [raw] = queued("file_serve")
    assert raw.endswith(
        '"retry":{"fatal_exceptions":["mypkg.errors.BadInput","café.Error"],'
        '"backoff":[1,10.5,1000.0],"limit":2,"delay":0.25}}'
    )
    assert answer["retry"]["backoff"] == [1, 10.5, 1000.0]


def test_a_whole_limit_written_as_a_float_is_stored_as_an_integer(
    client: FlaskClient, queued: Any
) -> None:
    data = '{"queue": "file_serve", "class": "Archive", "retry": {"limit": 3.0}}'

    answer = client.post("/jobs", data=data, content_type="application/json").get_json()

    assert answer["retry"] == {"limit": 3}
    assert queued("file_serve")[0].endswith(',"retry":{"limit":3}}')


def test_an_empty_object_is_stored_too(client: FlaskClient, queued: Any) -> None:
    client.post("/jobs", json={**JOB, "retry": {}})

    assert queued("file_serve")[0].endswith(',"retry":{}}')


def test_a_delayed_job_carries_it_before_queue_and_keeps_it_when_moved(
    client: FlaskClient, redis_client: redis.Redis, queued: Any
) -> None:
    answer = post(client, "/jobs", {**JOB, "retry": RETRY, "delay_seconds": 3600}).get_json()

    assert answer["retry"] == RETRY
    assert list(answer) == ["queue", "class", "args", "id", "scheduled_for", "retry"]
    second = due_second(answer["scheduled_for"])
    resque = Resque(redis_client)
    assert resque.delayed.jobs_at(second) == [
        f'{{"class":"Archive","args":[44],"id":"{answer["id"]}",{RETRY_BYTES},"queue":"file_serve"}}'
    ]

    resque.delayed.run_now(second)

    [raw] = queued("file_serve")
    assert raw.startswith(f'{{"class":"Archive","args":[44],"id":"{answer["id"]}",{RETRY_BYTES},')
    assert job_policy(decode_payload(raw)) is not None


def test_in_a_batch_only_the_jobs_that_carry_one_get_it(client: FlaskClient, queued: Any) -> None:
    jobs = [JOB, {**JOB, "args": [45], "retry": {"limit": 1}}]

    answered = client.post("/jobs/batch", json={"jobs": jobs}).get_json()["jobs"]

    assert "retry" not in answered[0] and answered[1]["retry"] == {"limit": 1}
    first, second = queued("file_serve")
    assert '"retry"' not in first
    assert second.endswith(',"retry":{"limit":1}}')


def test_the_idempotent_path_stores_and_replays_it(client: FlaskClient, queued: Any) -> None:
    headers = {"Idempotency-Key": "with-retry"}
    document = {**JOB, "retry": RETRY}

    first = post(client, "/jobs", document, **headers)
    again = post(client, "/jobs", document, **headers)

    assert again.get_json() == first.get_json()
    assert again.get_json()["retry"] == RETRY
    [raw] = queued("file_serve")
    assert RETRY_BYTES in raw


@pytest.mark.parametrize(
    ("retry", "field", "message"),
    [
        ([], "retry", "must be a JSON object, got array"),
        ("3", "retry", "must be a JSON object, got string"),
        (None, "retry", "must be a JSON object, got null"),
        ({"limit": -1}, "retry.limit", "from 0 to 100"),
        ({"limit": 101}, "retry.limit", "from 0 to 100"),
        ({"limit": 1.5}, "retry.limit", "from 0 to 100"),
        ({"limit": True}, "retry.limit", "from 0 to 100"),
        ({"limit": "3"}, "retry.limit", "from 0 to 100"),
        ({"limit": None}, "retry.limit", "from 0 to 100"),
        ({"delay": -1}, "retry.delay", "between 0 and"),
        ({"delay": "5"}, "retry.delay", "must be a number"),
        ({"delay": 10**9}, "retry.delay", "between 0 and"),
        ({"backoff": "linear"}, "retry.backoff", "fixed, exponential"),
        ({"backoff": []}, "retry.backoff", "fixed, exponential"),
        ({"backoff": None}, "retry.backoff", "fixed, exponential"),
        ({"backoff": [1, -1]}, "retry.backoff", "between 0 and"),
        ({"backoff": [[1]]}, "retry.backoff", "must be a number"),
        ({"retry_exceptions": "OSError"}, "retry.retry_exceptions", "must be a list"),
        ({"retry_exceptions": None}, "retry.retry_exceptions", "must be a list"),
        ({"retry_exceptions": [3]}, "retry.retry_exceptions", "not an exception class or name"),
        ({"retry_exceptions": [""]}, "retry.retry_exceptions", "not an exception class or name"),
        ({"fatal_exceptions": {"OSError": 1}}, "retry.fatal_exceptions", "must be a list"),
        ({"tries": 3}, "retry.tries", "unknown retry setting"),
    ],
)
def test_a_bad_retry_object_is_a_422_naming_the_field(
    client: FlaskClient, redis_client: redis.Redis, retry: Any, field: str, message: str
) -> None:
    errors = problem_fields(client.post("/jobs", json={**JOB, "retry": retry}))

    assert list(errors) == [field]
    assert message in errors[field]
    assert redis_client.keys("*") == []


def test_a_lone_surrogate_in_an_exception_name_is_a_422(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    data = '{"queue": "q", "class": "A", "retry": {"retry_exceptions": ["ok", "\\ud800"]}}'

    errors = problem_fields(client.post("/jobs", data=data, content_type="application/json"))

    assert errors == {"retry.retry_exceptions[1]": "is not valid UTF-8"}
    assert redis_client.keys("*") == []


def test_a_bad_retry_object_in_a_batch_names_the_item_and_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    jobs = [
        {**JOB, "retry": RETRY},
        {**JOB, "retry": {"limit": 101}},
        JOB,
        {**JOB, "retry": {"backoff": "linear"}, "delay_seconds": 60},
    ]

    errors = problem_fields(client.post("/jobs/batch", json={"jobs": jobs}))

    assert list(errors) == ["jobs[1].retry.limit", "jobs[3].retry.backoff"]
    assert redis_client.keys("*") == []


def test_the_unknown_field_message_lists_retry(client: FlaskClient) -> None:
    errors = problem_fields(client.post("/jobs", json={**JOB, "retries": 3}))

    assert errors == {
        "retries": "unknown field (allowed: queue, class, args, run_at, delay_seconds, retry)"
    }


def test_the_fingerprint_tells_retry_objects_apart(client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "fp"}
    client.post("/jobs", json={**JOB, "retry": {"limit": 1}}, headers=headers)

    reused = client.post("/jobs", json={**JOB, "retry": {"limit": 2}}, headers=headers)

    assert reused.status_code == 409
    assert json.loads(reused.get_data())["type"].endswith("idempotency-key-reused")
