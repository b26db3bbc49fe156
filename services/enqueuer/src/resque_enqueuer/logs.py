"""gunicorn's logs in every part's format (resque_proto.logs): its own lines and the
access lines (one per request, with ``method``, ``path``, ``status``...) alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from resque_enqueuer.envvars import ServerSettings
from resque_proto import logs


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, configured by RESQUE_LOG_FORMAT / RESQUE_LOG_LEVEL."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        logs.apply(ServerSettings.from_env().logs)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        fields = logs.access_fields(resp, environ, request_time)
        message = f"{fields['method']} {fields['path']} {fields['status']}"
        self.access_log.info(message, extra=fields)
