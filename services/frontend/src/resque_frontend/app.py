"""The Flask application: ``create_app()`` wires settings, Redis, pages and security."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from resque_frontend import actions, health, notices, pages, presenters, security, stats
from resque_frontend.config import Settings
from resque_frontend.context import RESQUE, SETTINGS
from resque_frontend.security import Refused
from resque_proto import Resque, connect


def create_app(settings: Settings | None = None, resque: Resque | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if resque is None:
        client = connect(settings.redis or settings.redis_url,
                         socket_timeout=settings.redis_timeout,
                         connect_timeout=settings.redis_timeout)  # fmt: skip
        resque = Resque(client, namespace=settings.namespace)
    app = Flask(__name__)
    app.extensions[RESQUE] = resque
    app.extensions[SETTINGS] = settings
    security.install(app, settings)
    for blueprint in (health.blueprint, pages.blueprint, actions.blueprint, stats.blueprint):
        app.register_blueprint(blueprint)
    _install_templating(app, settings)
    _install_errors(app, settings)
    return app


def _install_templating(app: Flask, settings: Settings) -> None:
    app.jinja_env.filters.update(
        duration=presenters.human_duration,
        ago=presenters.ago,
        due=presenters.due,
        moment=presenters.moment,
        utc=presenters.utc,
        iso=presenters.iso,
        minute=presenters.minute,
        compact=presenters.compact,
        pretty=presenters.pretty,
        readable=presenters.readable,
    )
    app.jinja_env.globals.update(job_view=presenters.job_view, section_of=presenters.section_of)

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "csrf_token": security.csrf_token,
            "read_only": settings.read_only,
            "refresh_seconds": settings.refresh_seconds,
            "namespace": settings.namespace,
            "notice": notices.current(),
            "live": False,
        }


def _install_errors(app: Flask, settings: Settings) -> None:
    @app.errorhandler(Refused)
    def refused(error: Refused) -> tuple[str, int]:
        return render_template("error.html", title="Not done", message=error.message,
                               totals=None), error.status  # fmt: skip

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        return render_template("error.html", title=error.name, message=error.description,
                               totals=None), error.code or 500  # fmt: skip

    @app.errorhandler(redis.RedisError)
    def redis_error(error: redis.RedisError) -> tuple[str, int, dict[str, str]]:
        where = stats.redacted_url(settings.redis_url)
        if isinstance(error, redis.ResponseError):
            title, message = "Redis refused", f"Redis at {where} refused the command: {error}."
        else:
            title = "Redis unavailable"
            message = f"Redis at {where} did not answer ({type(error).__name__})."
        if request.method == "POST":
            message += " The change may not have been made: reload to see the current state."
        page = render_template("error.html", title=title, message=message, totals=None)
        return page, 503, {"Retry-After": "5"}
