"""``GET /jobs/{id}``: a job's status, as the programs that changed it stored it.

One ``GET`` of ``<ns>:pyresque:status:<id>`` (docs/protocol.md, section 9). The
stored JSON is answered byte for byte; an absent key (never ours, expired, or a
Ruby producer's job not yet taken by one of our workers), or a value that is not
a JSON object, is a 404 with ``"state": "unknown"``. It needs the same bearer
token as enqueueing when tokens are configured: a job's arguments may be private.
"""

from __future__ import annotations

import redis
from flask import Blueprint, Response, request

from resque_enqueuer import auth
from resque_enqueuer.problems import Problem
from resque_enqueuer.services import services
from resque_proto.payload import decode_json
from resque_proto.status import MAX_ID_LENGTH, UNKNOWN

blueprint = Blueprint("job_status", __name__)


@blueprint.before_request
def require_token() -> None:
    auth.authenticate(request.headers.get("Authorization"), services().config.tokens)


@blueprint.get("/jobs/<job_id>")
def job_status(job_id: str) -> Response:
    stored = read(job_id)
    if stored is None:
        raise Problem(
            404,
            "unknown-job",
            "no status is stored for this job id: it was never enqueued with one, its "
            "status expired (RESQUE_STATUS_TTL), or it is not a job id",
            id=job_id,
            state=UNKNOWN,
        )
    response = Response(stored, 200, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def read(job_id: str) -> str | None:
    """The stored status JSON, if there is one and it is a JSON object (a RedisError,
    but for a key of another type, is a 503)."""
    if len(job_id) > MAX_ID_LENGTH:
        return None
    resque = services().resque
    try:
        raw = resque.redis.get(resque.keys.status(job_id))
    except redis.ResponseError as error:
        if str(error).startswith("WRONGTYPE"):
            return None
        raise
    if raw is None:
        return None
    try:
        stored = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        body = decode_json(stored)
    except ValueError:  # UnicodeDecodeError included
        return None
    return stored if isinstance(body, dict) else None
