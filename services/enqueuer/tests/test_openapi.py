"""The OpenAPI document is valid, and real answers match what it says."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import redis
from flask import Flask
from openapi_spec_validator import validate

from redis_runner.server import RedisServer
from resque_proto import Resque
from resque_proto.status import SUCCEEDED

JOB = {"queue": "file_serve", "class": "Archive", "args": [44]}


def spec_of(app: Flask) -> dict[str, Any]:
    document: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    return document


def check(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The response's status, media type and body are the ones documented."""
    operation = document["paths"][path][method]
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {path} answered undocumented {status}"
    content = documented[status]["content"]
    assert response.mimetype in content, f"{response.mimetype} not documented for {status}"
    for header in documented[status].get("headers", {}):
        if header != "Idempotent-Replayed":
            assert header in response.headers
    schema = {**content[response.mimetype]["schema"], "components": document["components"]}
    if response.mimetype.endswith("json"):
        jsonschema.validate(response.get_json(force=True), schema)


def test_the_document_is_valid_openapi_3_1(make_app: Any) -> None:
    for app in (make_app(), make_app(tokens=("t",), allowed_queues=("q*",))):
        document = spec_of(app)
        validate(document)
        assert document["openapi"] == "3.1.0"


def test_the_document_states_the_configured_limits(make_app: Any) -> None:
    document = spec_of(make_app(max_batch=17, tokens=("t",)))
    schemas = document["components"]["schemas"]

    assert schemas["BatchRequest"]["properties"]["jobs"]["maxItems"] == 17
    assert document["paths"]["/jobs"]["post"]["security"] == [{"bearerAuth": []}]
    assert "401" in document["paths"]["/jobs"]["post"]["responses"]


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/jobs", {"json": JOB}),
        ("/jobs", {"json": {"queue": "q"}}),
        ("/jobs", {"data": "{", "content_type": "application/json"}),
        ("/jobs", {"data": "{}", "content_type": "text/plain"}),
        ("/jobs", {"json": {**JOB, "args": ["x" * 5000]}}),
        ("/jobs", {"json": JOB, "headers": {"Authorization": "Bearer nope"}}),
        ("/jobs", {"json": {**JOB, "queue": "admin"}, "headers": {"Authorization": "Bearer t"}}),
        ("/jobs/batch", {"json": {"jobs": [JOB, JOB]}, "headers": {"Authorization": "Bearer t"}}),
        ("/jobs/batch", {"json": {"jobs": []}}),
        ("/jobs", {"json": {**JOB, "delay_seconds": 60}}),
        ("/jobs", {"json": {**JOB, "run_at": "2020-01-01T00:00:00Z"}}),
        ("/jobs", {"json": {**JOB, "run_at": "2020-01-01T00:00:00Z", "delay_seconds": 1}}),
        ("/jobs/batch", {"json": {"jobs": [JOB, {**JOB, "delay_seconds": 0.5}]}}),
        ("/jobs", {"json": {**JOB, "retry": {"limit": 3, "backoff": [1, 2.5]}}}),
        ("/jobs", {"json": {**JOB, "retry": {"limit": 2}, "delay_seconds": 60}}),
        ("/jobs", {"json": {**JOB, "retry": {"limit": 101}}}),
        ("/jobs/batch", {"json": {"jobs": [JOB, {**JOB, "retry": {"tries": 1}}]}}),
    ],
)
def test_enqueue_answers_match_the_document(make_app: Any, path: str, kwargs: Any) -> None:
    app = make_app(tokens=("t",), allowed_queues=("file_*", "q"), max_body_bytes=4096)
    headers = {"Authorization": "Bearer t", **kwargs.pop("headers", {})}

    response = app.test_client().post(path, headers=headers, **kwargs)

    check(spec_of(app), path, "post", response)


def test_status_endpoints_match_the_document(make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    document = spec_of(app)

    for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
        check(document, path, "get", client.get(path))


def test_the_503_answers_match_the_document(make_app: Any, fresh_redis: Any) -> None:
    server: RedisServer = fresh_redis()
    app = make_app(redis_url=server.url)
    document = spec_of(app)
    server.kill()
    client = app.test_client()

    check(document, "/jobs", "post", client.post("/jobs", json=JOB))
    check(document, "/jobs/batch", "post", client.post("/jobs/batch", json={"jobs": [JOB]}))
    check(document, "/readyz", "get", client.get("/readyz"))
    check(document, "/jobs/{id}", "get", client.get("/jobs/be557930aa0242e3bb108afb512659a8"))


def test_job_status_answers_match_the_document(make_app: Any, redis_client: redis.Redis) -> None:
    app = make_app(tokens=("t",))
    client = app.test_client()
    document = spec_of(app)
    token = {"Authorization": "Bearer t"}
    queued = client.post("/jobs", json=JOB, headers=token).get_json()["id"]
    later = client.post("/jobs", json={**JOB, "delay_seconds": 60}, headers=token).get_json()
    resque = Resque(redis_client, status_ttl=600)
    held = resque.jobs.reserve("host:1:file_serve", ["file_serve"])
    assert held is not None
    answers = [client.get(f"/jobs/{queued}", headers=token)]
    done = resque.jobs.status_of(held.queue, held.payload, SUCCEEDED, duration=0.1)
    resque.jobs.finish("host:1:file_serve", held, 0.1, status=done)
    answers += [
        client.get(f"/jobs/{queued}", headers=token),
        client.get(f"/jobs/{later['id']}", headers=token),
        client.get("/jobs/nope", headers=token),
        client.get("/jobs/" + "x" * 200, headers=token),
        client.get(f"/jobs/{queued}"),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 404, 404, 401]
    assert [a.get_json(force=True).get("state") for a in answers[:4]] == [
        "running",
        "succeeded",
        "scheduled",
        "unknown",
    ]
    for answer in answers:
        check(document, "/jobs/{id}", "get", answer)


def test_the_documented_examples_fit_their_schemas(make_app: Any) -> None:
    document = spec_of(make_app(tokens=("t",)))
    schemas = document["components"]["schemas"]
    status_operation = document["paths"]["/jobs/{id}"]["get"]

    assert status_operation["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "404", "503"} <= set(status_operation["responses"])
    for name in ("JobStatus", "RetryPolicy", "JobRequest", "EnqueuedJob"):
        schema = {**schemas[name], "components": document["components"]}
        assert schemas[name]["examples"], name
        for example in schemas[name]["examples"]:
            jsonschema.validate(example, schema)
    states = {example["state"] for example in schemas["JobStatus"]["examples"]}
    assert states == {"queued", "scheduled", "running", "succeeded", "failed"}


@pytest.mark.parametrize(
    "retry",
    [
        {"limit": 101},
        {"limit": -1},
        {"delay": -1},
        {"backoff": "linear"},
        {"backoff": []},
        {"retry_exceptions": "OSError"},
        {"fatal_exceptions": [""]},
        {"tries": 1},
    ],
)
def test_the_retry_schema_refuses_what_the_api_refuses(
    make_app: Any, retry: dict[str, Any]
) -> None:
    app = make_app()
    document = spec_of(app)
    schema = {**document["components"]["schemas"]["RetryPolicy"], "components": {}}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(retry, schema)
    assert app.test_client().post("/jobs", json={**JOB, "retry": retry}).status_code == 422
