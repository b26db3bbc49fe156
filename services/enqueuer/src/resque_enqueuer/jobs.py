"""``POST /jobs`` and ``POST /jobs/batch``: validate everything, then write once.

Order of checks: token (401), ``Idempotency-Key`` header (400), media type
(415), size (413), JSON (400), fields (422), allow-lists (403), then a single
atomic write (503 when Redis fails). Nothing is written unless every check
passed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, g, request

from resque_enqueuer import auth, body, idempotency, metrics
from resque_enqueuer.new_statuses import NewStatuses
from resque_enqueuer.problems import Problem
from resque_enqueuer.services import services
from resque_enqueuer.timing import Horizon, scheduled_for
from resque_enqueuer.validation import (
    FieldError,
    JobSpec,
    error,
    invalid,
    parse_batch,
    parse_job,
)
from resque_enqueuer.writes import Writes
from resque_proto.delayed_payload import encode_delayed_payload
from resque_proto.jobs import JOB_ID_KEY, new_job_metadata
from resque_proto.payload import encode_checked_payload
from resque_proto.retry import RETRY_KEY
from resque_proto.status import QUEUED, SCHEDULED

blueprint = Blueprint("jobs", __name__)


@blueprint.before_request
def require_token() -> None:
    g.principal = auth.authenticate(request.headers.get("Authorization"), services().config.tokens)


@blueprint.post("/jobs")
def enqueue_one() -> Response:
    key, document = read_request()
    spec = parse_job(document, horizon())
    check_allowed([spec])
    return write([spec], key, "/jobs", document, single=True)


@blueprint.post("/jobs/batch")
def enqueue_batch() -> Response:
    key, document = read_request()
    specs = parse_batch(document, services().config.max_batch, horizon())
    check_allowed(specs, prefix_items=True)
    return write(specs, key, "/jobs/batch", document, single=False)


def read_request() -> tuple[str | None, Any]:
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    return key, body.read_json(request, services().config.max_body_bytes)


def horizon() -> Horizon:
    return Horizon(now=time.time(), max_delay=services().config.max_delay)


def check_allowed(specs: list[JobSpec], prefix_items: bool = False) -> None:
    config = services().config
    if not (config.allowed_queues or config.allowed_classes):
        return
    denied: list[FieldError] = []
    for index, spec in enumerate(specs):
        prefix = f"jobs[{index}]." if prefix_items else ""
        for field, message in auth.forbidden_fields(
            spec.queue, spec.class_name, config.allowed_queues, config.allowed_classes
        ):
            denied.append(error(prefix + field, message))
    if denied:
        shown = "; ".join(d["message"] for d in denied[:3])
        raise Problem(403, "forbidden", f"not allowed: {shown}", errors=denied)


def write(
    specs: list[JobSpec], key: str | None, endpoint: str, document: Any, single: bool
) -> Response:
    found = services()
    writes, stored = encode_all(specs, single, found.resque.status_ttl)
    answer = stored[0] if single else {"jobs": stored}
    request_print = "" if key is None else idempotency.fingerprint(endpoint, document)
    once = None
    if key is not None:
        ttl = found.config.idempotency_ttl
        once = idempotency.once(found.resque.keys, g.principal, key, request_print, answer, ttl)
    previous = found.push.push(writes, once)
    if previous is None:
        metrics.jobs_written(len(writes), len(writes.delayed))
        return accepted(answer, replayed=False)
    replay = idempotency.replay(previous, request_print)
    return accepted(replay.body, replayed=True, status=replay.status)


def encode_all(
    specs: list[JobSpec], single: bool, status_ttl: int = 0
) -> tuple[Writes, list[dict[str, Any]]]:
    """The payloads (and statuses, unless ``status_ttl`` is 0) to write, and the jobs as
    the answer shows them."""
    writes = Writes()
    statuses = NewStatuses() if status_ttl > 0 else None
    stored: list[dict[str, Any]] = []
    for index, spec in enumerate(specs):
        try:
            stored.append(encode(spec, writes, statuses))
        except RecursionError:
            where = "args" if single else f"jobs[{index}].args"
            raise invalid([error(where, "is nested too deeply")]) from None
    return writes, stored


def encode(spec: JobSpec, writes: Writes, statuses: NewStatuses | None) -> dict[str, Any]:
    """Add the job's payload (and status, unless ``statuses`` is None) to ``writes``;
    return the job as the answer shows it."""
    shown = {"queue": spec.queue, "class": spec.class_name, "args": spec.args}
    extras = new_job_metadata()
    job_id: str = extras[JOB_ID_KEY]
    retry = {RETRY_KEY: spec.retry} if spec.retry is not None else {}
    if spec.due is None:
        payload = encode_checked_payload(spec.class_name, spec.args, {**extras, **retry})
        writes.ready.append((spec.queue, payload))
        if statuses is not None:
            writes.statuses.append(statuses.status(spec, job_id, QUEUED))
        return {**shown, **extras, **retry}
    payload = encode_delayed_payload(spec.queue, spec.class_name, spec.args, job_id, retry)
    writes.delayed.append((spec.due, payload))
    if statuses is not None:
        writes.statuses.append(statuses.status(spec, job_id, SCHEDULED, scheduled_for=spec.due))
    return {**shown, JOB_ID_KEY: job_id, "scheduled_for": scheduled_for(spec.due), **retry}


def accepted(answer: Any, replayed: bool, status: int = 202) -> Response:
    response = Response(json.dumps(answer, ensure_ascii=False), status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
