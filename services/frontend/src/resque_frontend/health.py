"""Endpoints for orchestrators and Prometheus: /healthz, /readyz, /metrics."""

from __future__ import annotations

import redis
from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from resque_frontend import refusals
from resque_frontend.context import resque
from resque_frontend.metrics import registry_for

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up (does not touch Redis)."""
    return Response("ok\n", mimetype="text/plain")


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready when Redis answers; a refused PING (a ``+@read`` user) is an answer too."""
    try:
        resque().redis.ping()
    except redis.exceptions.NoPermissionError as error:
        refusals.refused("PING", error)
    except (redis.RedisError, OSError) as error:
        return Response(f"redis unavailable: {type(error).__name__}\n", 503, mimetype="text/plain")
    return Response("ready\n", mimetype="text/plain")


@blueprint.get("/metrics")
def metrics() -> Response:
    body = generate_latest(registry_for(resque()))
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
