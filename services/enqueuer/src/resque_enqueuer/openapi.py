"""The OpenAPI 3.1 document served at ``/openapi.json``.

Built from the running configuration (body and batch limits, whether a token
is required), so it describes this deployment exactly. Tests validate it with
openapi-spec-validator, check real answers against its schemas, and fuzz the
app from it with schemathesis.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from resque_enqueuer import __version__, idempotency
from resque_enqueuer.config import Config
from resque_enqueuer.services import services
from resque_enqueuer.timing import EXAMPLE
from resque_proto.payload import CLASS_NAME, MAX_CLASS_NAME, QUEUE_NAME
from resque_proto.retry import BACKOFFS, MAX_DELAY, MAX_LIMIT
from resque_proto.status import FAILED, MAX_ID_LENGTH, QUEUED, RUNNING, SCHEDULED, SUCCEEDED

blueprint = Blueprint("openapi", __name__)

PROBLEM = "application/problem+json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def schemas(config: Config) -> dict[str, Any]:
    job_request = {
        "type": "object",
        "additionalProperties": False,
        "required": ["queue", "class"],
        "properties": {
            "queue": {"type": "string", "pattern": f"^{QUEUE_NAME.pattern}$"},
            "class": {
                "type": "string",
                "maxLength": MAX_CLASS_NAME,
                "pattern": f"^{CLASS_NAME.pattern}$",
            },
            "args": {"type": "array", "default": [], "description": "any JSON values"},
            "run_at": {
                "type": "string",
                "format": "date-time",
                "description": "run the job at this time (RFC 3339 with a zone offset or Z, "
                "rounded up to the whole second), not before 1970 and at most "
                f"{config.max_delay} s ahead; a time not in the future enqueues at once. "
                "Not with delay_seconds.",
                "examples": [EXAMPLE, "2026-12-02T11:00:00+01:00"],
            },
            "delay_seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": config.max_delay,
                "description": "run the job this many seconds from now, rounded up to the "
                "whole second (0 enqueues at once). Not with run_at.",
                "examples": [3600, 0.5],
            },
            "retry": ref("RetryPolicy"),
        },
        "not": {"required": ["run_at", "delay_seconds"]},
        "examples": [
            {"queue": "file_serve", "class": "Archive", "args": [44]},
            {"queue": "file_serve", "class": "Archive", "args": [44], "delay_seconds": 3600},
            {"queue": "file_serve", "class": "Archive", "args": [44], "run_at": EXAMPLE},
            {"queue": "file_serve", "class": "Archive", "args": [44], "retry": RETRY_EXAMPLE},
        ],
    }
    enqueued = {
        "type": "object",
        "required": ["queue", "class", "args", "id"],
        "properties": {
            "queue": {"type": "string"},
            "class": {"type": "string"},
            "args": {"type": "array"},
            "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "enqueued_at": {
                "type": "number",
                "description": "epoch seconds (UTC); only for a job put on its queue now",
            },
            "scheduled_for": {
                "type": "string",
                "format": "date-time",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                "description": "only for a delayed job: the whole second (UTC) it is filed "
                "under, the time asked for rounded up",
            },
            "retry": {**ref("RetryPolicy"), "description": "the retry object sent, if any"},
        },
        "oneOf": [{"required": ["enqueued_at"]}, {"required": ["scheduled_for"]}],
        "examples": [
            {
                "queue": "file_serve",
                "class": "Archive",
                "args": [44],
                "id": "be557930aa0242e3bb108afb512659a8",
                "enqueued_at": 1795814805.852684,
            },
            {
                "queue": "file_serve",
                "class": "Archive",
                "args": [44],
                "id": "3189a282834d41eb863a8a7c1044df6f",
                "scheduled_for": EXAMPLE,
            },
        ],
    }
    field_error = {
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    }
    problem = {
        "type": "object",
        "required": ["type", "title", "status", "detail", "request_id"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {"type": "array", "items": ref("FieldError")},
            "max_body_bytes": {"type": "integer"},
            "id": {"type": "string", "description": "404 of GET /jobs/{id}: the id asked for"},
            "state": {
                "type": "string",
                "enum": ["unknown"],
                "description": "404 of GET /jobs/{id}: no status is stored for the id",
            },
        },
    }
    return {
        "JobRequest": job_request,
        "BatchRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["jobs"],
            "properties": {
                "jobs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": config.max_batch,
                    "items": ref("JobRequest"),
                }
            },
        },
        "EnqueuedJob": enqueued,
        "RetryPolicy": retry_policy(),
        "JobStatus": job_status(),
        "BatchAnswer": {
            "type": "object",
            "required": ["jobs"],
            "properties": {"jobs": {"type": "array", "items": ref("EnqueuedJob")}},
        },
        "FieldError": field_error,
        "Problem": problem,
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}},
        },
    }


RETRY_EXAMPLE = {"limit": 3, "delay": 5, "backoff": "exponential", "retry_exceptions": ["OSError"]}


def retry_policy() -> dict[str, Any]:
    seconds = {"type": "number", "minimum": 0, "maximum": MAX_DELAY}
    names = {"type": "array", "items": {"type": "string", "minLength": 1}}
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "this job's retry policy, overriding its class's (resque-retry's "
        "names); stored in the payload as sent. No member is required: {} means no retry.",
        "properties": {
            "limit": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_LIMIT,
                "default": 0,
                "description": "retries after the first attempt (resque-retry's retry_limit)",
            },
            "delay": {
                **seconds,
                "default": 0,
                "description": "seconds before a retry; with exponential backoff, before "
                "the first one (doubling after each, jittered by +/-25%)",
            },
            "backoff": {
                "default": "fixed",
                "description": "fixed (every retry after delay), exponential, or the delays "
                "in seconds of the 1st, 2nd, ... retry (the last repeats)",
                "oneOf": [
                    {"type": "string", "enum": list(BACKOFFS)},
                    {"type": "array", "minItems": 1, "items": seconds},
                ],
            },
            "retry_exceptions": {
                **names,
                "description": "retry only these exceptions (class or any base class, by "
                "name: OSError, mypkg.errors.Flaky); absent: any exception",
            },
            "fatal_exceptions": {
                **names,
                "description": "never retry these (class or any base class, by name)",
            },
        },
        "examples": [
            RETRY_EXAMPLE,
            {"limit": 2, "backoff": [10, 60]},
            {"limit": 5, "delay": 30, "fatal_exceptions": ["mypkg.errors.BadInput"]},
        ],
    }


STATUS_EXAMPLES = [
    {
        "id": "be557930aa0242e3bb108afb512659a8",
        "state": QUEUED,
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": 1795814805.852684,
    },
    {
        "id": "3189a282834d41eb863a8a7c1044df6f",
        "state": SCHEDULED,
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": 1795814805.852684,
        "scheduled_for": 1795818406,
    },
    {
        "id": "be557930aa0242e3bb108afb512659a8",
        "state": RUNNING,
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": 1795814806.0123,
        "worker": "host-1:4242:file_serve",
        "started_at": 1795814806.0123,
    },
    {
        "id": "be557930aa0242e3bb108afb512659a8",
        "state": SUCCEEDED,
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": 1795814806.25321,
        "duration": 0.240901,
    },
    {
        "id": "be557930aa0242e3bb108afb512659a8",
        "state": FAILED,
        "queue": "file_serve",
        "class": "Archive",
        "updated_at": 1795814806.25321,
        "attempt": 4,
        "failure": {
            "failed_at": "2026/11/27 18:40:06 UTC",
            "payload": {"class": "Archive", "args": [44]},
            "exception": "OSError",
            "error": "disk full",
            "backtrace": ["jobs.py:12:in `perform'"],
            "worker": "host-1:4242:file_serve",
            "queue": "file_serve",
            "attempts": 4,
        },
    },
]


def job_status() -> dict[str, Any]:
    epoch = {"type": "number", "description": "Unix epoch seconds"}
    return {
        "type": "object",
        "required": ["id", "state", "queue", "class", "updated_at"],
        "description": "the job's status as stored (docs/protocol.md, section 9)",
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": [QUEUED, SCHEDULED, RUNNING, SUCCEEDED, FAILED]},
            "queue": {"type": "string"},
            "class": {"type": "string"},
            "updated_at": epoch,
            "scheduled_for": {**epoch, "description": "scheduled: the second it is due"},
            "worker": {"type": "string", "description": "running: the worker's id"},
            "started_at": {**epoch, "description": "running: when the attempt started"},
            "duration": {"type": "number", "description": "succeeded: seconds it ran"},
            "attempt": {
                "type": "integer",
                "description": "the attempt (2 and up; the next one for a scheduled retry)",
            },
            "failure": {"type": "object", "description": "failed: the failure record"},
        },
        "examples": STATUS_EXAMPLES,
    }


def job_status_operation(config: Config) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "the job's status, as stored",
            "headers": {
                "Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}},
            },
            "content": {"application/json": {"schema": ref("JobStatus")}},
        },
        "404": problem_response(
            'no status for this id (never enqueued with one, expired, or not an id): "state" '
            'is "unknown"'
        ),
        "503": problem_response("Redis unreachable or timed out", RETRY_AFTER),
    }
    if config.auth_required:
        responses["401"] = problem_response("missing or invalid bearer token")
    operation: dict[str, Any] = {
        "summary": "A job's status by id",
        "description": "queued, scheduled, running, succeeded or failed, kept "
        f"{config.status_ttl} s after the job's last change (RESQUE_STATUS_TTL)"
        if config.status_ttl > 0
        else "this service writes no statuses (RESQUE_STATUS_TTL=0): a job is unknown "
        "until a worker that writes them takes it",
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": "the id answered by POST /jobs (longer ids are unknown)",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                "examples": {"job": {"value": "be557930aa0242e3bb108afb512659a8"}},
            }
        ],
        "responses": responses,
    }
    if config.auth_required:
        operation["security"] = [{"bearerAuth": []}]
    return operation


def enqueue_operation(
    config: Config, summary: str, request_schema: str, answer_schema: str
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "202": {
            "description": "accepted: the job(s) are on their queue(s), or filed as delayed "
            "jobs (those with scheduled_for)",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "'true' when this is the stored answer of an earlier request",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
            "content": {"application/json": {"schema": ref(answer_schema)}},
        },
        "400": problem_response("body is not JSON, or the Idempotency-Key header is invalid"),
        "413": problem_response(f"body larger than {config.max_body_bytes} bytes"),
        "415": problem_response("Content-Type is not application/json"),
        "409": problem_response("the Idempotency-Key was used for a different request"),
        "422": problem_response("invalid fields, each named in errors"),
        "503": problem_response(
            "Redis unreachable or timed out (redis-unavailable); or, with "
            "ENQUEUER_MIN_REPLICAS, fewer replicas confirmed the write in time "
            "(replication-timeout: the jobs may be on the primary only; retry with the same "
            "Idempotency-Key)",
            RETRY_AFTER,
        ),
    }
    if config.auth_required:
        responses["401"] = problem_response("missing or invalid bearer token")
    if config.allowed_queues or config.allowed_classes:
        responses["403"] = problem_response("queue or class outside the allow-lists")
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "repeat the request with the same key to get the first "
                f"answer back without enqueuing again ({config.idempotency_ttl} s window)",
                "schema": {
                    "type": "string",
                    "maxLength": idempotency.MAX_KEY_LENGTH,
                    "pattern": f"^{idempotency.KEY_PATTERN}$",
                },
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref(request_schema)}},
        },
        "responses": responses,
    }
    if config.auth_required:
        operation["security"] = [{"bearerAuth": []}]
    return operation


def status_operation(summary: str, with_503: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": ref("Status")}},
        }
    }
    if with_503:
        responses["503"] = problem_response("Redis unreachable", RETRY_AFTER)
    return {"summary": summary, "responses": responses}


def document(config: Config) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "resque-py enqueue API",
            "version": __version__,
            "description": "Enqueue Resque 3.0 compatible jobs over HTTP. Every error is "
            "an RFC 9457 application/problem+json document.",
        },
        "paths": {
            "/jobs": {
                "post": enqueue_operation(config, "Enqueue one job", "JobRequest", "EnqueuedJob")
            },
            "/jobs/batch": {
                "post": enqueue_operation(
                    config, "Enqueue many jobs atomically", "BatchRequest", "BatchAnswer"
                )
            },
            "/jobs/{id}": {"get": job_status_operation(config)},
            "/healthz": {"get": status_operation("The process is up (no Redis call)", False)},
            "/readyz": {"get": status_operation("Redis answers PING", True)},
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of this service",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": schemas(config),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@blueprint.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document(services().config))
