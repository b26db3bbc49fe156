"""Structured logs on stderr, one format for every part: one JSON object per line, or
plain text for humans (``RESQUE_LOG_FORMAT``, read by :meth:`EnvSettings.logs`).

A JSON line always has ``ts``, ``level``, ``logger``, ``msg`` and ``pid``; call sites
add fields with ``extra={...}`` (``key=value`` pairs in text), and an exception adds
``exc``. The gunicorn services (enqueuer, frontend) route gunicorn's own logs here
too (:func:`dict_config`), and write access lines with :func:`access_fields`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from resque_proto.settings import LogSettings

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "access_fields",
    "apply",
    "configure",
    "dict_config",
    "formatter_for",
]

STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in STANDARD_ATTRIBUTES and k[:1] != "_"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            **_fields(record),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{self.formatTime(record)} {record.levelname:<7} [{record.process}] "
        line += record.getMessage() + (f" {fields}" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(settings: LogSettings | str, level: int = logging.INFO) -> None:
    """Send every logger to stderr in the chosen format: ``configure(EnvSettings().logs())``,
    or ``configure("json", logging.DEBUG)``."""
    log_format = settings if isinstance(settings, str) else settings.format
    if isinstance(settings, LogSettings):
        level = settings.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def dict_config(settings: LogSettings) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` document doing what :func:`configure` does,
    gunicorn's ``gunicorn.error`` and ``gunicorn.access`` loggers included (their own
    handlers removed, so they reach stderr through the root's, in our format)."""
    level = logging.getLevelName(settings.level)
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "resque",
        "stream": "ext://sys.stderr",
    }
    quiet = {"level": level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"resque": {"()": formatter_for, "log_format": settings.format}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {"gunicorn.error": quiet, "gunicorn.access": dict(quiet)},
    }


def apply(settings: LogSettings) -> None:
    """:func:`dict_config`, applied (gunicorn's logger classes call this after their setup)."""
    import logging.config  # here: it imports logging.handlers, pickle, queue and socketserver,
    # which the worker's fork server would otherwise carry into every fork

    logging.config.dictConfig(dict_config(settings))


def access_fields(
    response: Any, environ: Mapping[str, Any], request_time: timedelta
) -> dict[str, object]:
    """The fields of one gunicorn access line, the same in every HTTP part: ``method``,
    ``path``, ``status``, ``bytes``, ``duration_ms``, ``remote``, ``request_id`` (the
    answer's ``X-Request-Id``, else the request's). ``response`` is gunicorn's."""
    headers = {name.lower(): value for name, value in response.headers or ()}
    return {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": response.status_code,
        "bytes": getattr(response, "sent", None),
        "duration_ms": round(request_time.total_seconds() * 1000, 3),
        "remote": environ.get("REMOTE_ADDR"),
        "request_id": headers.get("x-request-id") or environ.get("HTTP_X_REQUEST_ID"),
    }
