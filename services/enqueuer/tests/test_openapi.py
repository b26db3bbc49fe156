"""The OpenAPI document is valid, and real answers match what it says."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from flask import Flask
from openapi_spec_validator import validate

from redis_runner.server import RedisServer

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
