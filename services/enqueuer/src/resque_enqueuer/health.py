"""``/healthz`` (the process answers; never touches Redis) and ``/readyz``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from resque_enqueuer.services import services

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> Response:
    """PING on a dedicated client with a short timeout; a RedisError becomes 503."""
    services().ready_client.ping()
    return jsonify(status="ready")
