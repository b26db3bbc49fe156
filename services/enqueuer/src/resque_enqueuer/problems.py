"""RFC 9457 problem details: the body of every error this service answers.

Handlers raise :class:`Problem`; Flask's error handlers turn it, any Werkzeug
HTTP error (404, 405, 413, ...) and any unexpected exception into an
``application/problem+json`` response carrying the request id. Nothing else
ever reaches the client: no HTML page, no stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import redis
from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE_BASE = "tag:resque-py,2026:problem:"
MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("resque_enqueuer")


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


class Problem(Exception):
    """An error answer: status, a type slug, a human detail, extension members."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem_response(
    status: int,
    type_uri: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": g.get("request_id", ""),
        **extensions,
    }
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_problem(problem: Problem) -> Response:
    return problem_response(
        problem.status,
        problem_type(problem.slug),
        problem.detail,
        problem.headers,
        **problem.extensions,
    )


def from_http_exception(error: HTTPException) -> Response:
    """404, 405 (keeping its ``Allow`` header), 413 and the rest, as problems."""
    status = error.code or 500
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    }
    return problem_response(status, "about:blank", error.description or "", headers)


def from_redis_error(error: redis.RedisError, retry_after: int) -> Response:
    log.warning("redis unavailable: %s", error, extra={"request_id": g.get("request_id")})
    return from_problem(
        Problem(
            503,
            "redis-unavailable",
            "the job store (Redis) is unavailable (unreachable, timed out or refusing "
            "writes); retry later (with the same Idempotency-Key, a retry cannot enqueue twice)",
            headers={"Retry-After": str(retry_after)},
        )
    )


def from_unexpected(error: Exception) -> Response:
    request_id = g.get("request_id", "")
    log.exception("unhandled error (request_id=%s)", request_id, extra={"request_id": request_id})
    return problem_response(
        500,
        problem_type("internal-error"),
        f"an unexpected error occurred; it was logged with request id {request_id}",
    )


def install(app: Flask, retry_after: int) -> None:
    """Register the handlers that make every error a problem document."""
    app.register_error_handler(Problem, from_problem)
    app.register_error_handler(HTTPException, from_http_exception)

    def redis_handler(error: redis.RedisError) -> Response:
        return from_redis_error(error, retry_after)

    app.register_error_handler(redis.RedisError, redis_handler)
    app.register_error_handler(Exception, from_unexpected)
