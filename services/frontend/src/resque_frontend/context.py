"""The per-app objects views need: the Resque handle and the settings."""

from __future__ import annotations

from flask import current_app, request

from resque_frontend.config import Settings
from resque_frontend.security import Refused
from resque_proto import Resque

RESQUE = "resque"
SETTINGS = "resque_settings"


def resque() -> Resque:
    handle: Resque = current_app.extensions[RESQUE]
    return handle


def settings() -> Settings:
    value: Settings = current_app.extensions[SETTINGS]
    return value


def int_arg(name: str, default: int = 0) -> int:
    """A non-negative integer query parameter; a clear 400 when it is not one."""
    value = optional_int_arg(name)
    return default if value is None else value


def optional_int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit():
        raise Refused(400, f"The {name!r} parameter must be a whole number >= 0.")
    return int(raw)
