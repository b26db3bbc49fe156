"""The Flask application factory."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, g, request

from resque_enqueuer import health, job_status, jobs, metrics, openapi, problems
from resque_enqueuer.config import Config
from resque_enqueuer.services import EXTENSION, Services

REQUEST_ID_HEADER = "X-Request-Id"
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = logging.getLogger("resque_enqueuer")


def create_app(config: Config | None = None) -> Flask:
    """An app for ``config`` (default: from the environment), with its own Redis pool."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.extensions[EXTENSION] = Services.build(config)
    app.before_request(assign_request_id)
    app.after_request(echo_request_id)
    metrics.install(app)
    problems.install(app, config.retry_after)
    for blueprint in (jobs.blueprint, job_status.blueprint, health.blueprint, openapi.blueprint):
        app.register_blueprint(blueprint)
    if not config.auth_required:
        log.warning(
            "no ENQUEUER_TOKENS or ENQUEUER_TOKENS_FILE configured: "
            "anyone who can reach this service can enqueue jobs and read their statuses"
        )
    return app


def assign_request_id() -> None:
    """Keep a sane client-supplied ``X-Request-Id``; otherwise make one."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = supplied if CLIENT_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex


def echo_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    return response
