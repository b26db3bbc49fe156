"""When a job asked for with ``run_at`` or ``delay_seconds`` is due.

A time in the future makes a delayed job, filed under the whole second at or
after it (``resque_proto.delayed.due_timestamp``: never early); a time that is
not in the future means "now". "Now" is this host's clock, read once per
request, so every job of a batch is measured from the same instant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from resque_proto.delayed_payload import due_timestamp
from resque_proto.errors import ValidationError
from resque_proto.timefmt import run_at as rfc3339_utc

RUN_AT = "run_at"
DELAY = "delay_seconds"
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,
)
EXAMPLE = "2026-12-02T10:00:00Z"
LATEST = 253402300799  # 9999-12-31T23:59:59Z, the last second RFC 3339 can write


@dataclass(frozen=True)
class Horizon:
    """The request's "now" (epoch seconds) and how far past it a job may be due."""

    now: float
    max_delay: int

    def due(self, when: float) -> int | None:
        """The second to file a job for ``when`` under; None when it is not in the future."""
        return due_timestamp(when) if when > self.now else None

    def check_ahead(self, field: str, seconds: float) -> None:
        if seconds > self.max_delay:
            raise ValidationError(
                field, f"is more than {self.max_delay} seconds ahead (ENQUEUER_MAX_DELAY)"
            )
        if self.now + seconds > LATEST:
            raise ValidationError(field, "is after 9999-12-31T23:59:59Z")


def requested_run_at(value: Any, horizon: Horizon) -> float:
    """The epoch seconds of a ``run_at`` member."""
    if not isinstance(value, str):
        raise ValidationError(RUN_AT, f"must be an RFC 3339 timestamp string such as {EXAMPLE}")
    when = parse_rfc3339(value).timestamp()
    if when < 0:
        raise ValidationError(RUN_AT, "is before 1970-01-01T00:00:00Z")
    horizon.check_ahead(RUN_AT, when - horizon.now)
    return when


def requested_delay(value: Any, horizon: Horizon) -> float:
    """The epoch seconds ``delay_seconds`` from now."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(DELAY, "must be a number of seconds")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(DELAY, "must be a finite number")
    if value < 0:
        raise ValidationError(DELAY, "must not be negative")
    horizon.check_ahead(DELAY, value)
    return horizon.now + value


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with its zone; digits past the microsecond round up."""
    match = RFC3339.fullmatch(text)
    if match is None:
        raise ValidationError(RUN_AT, f"is not an RFC 3339 timestamp such as {EXAMPLE}")
    *fields, fraction, zone = match.groups()
    if zone is None:
        raise ValidationError(RUN_AT, "has no zone offset: end it with Z or +hh:mm")
    year, month, day, hour, minute, second = map(int, fields)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=utc_offset(zone))
        return moment + timedelta(microseconds=microseconds(fraction or ""))
    except (ValueError, OverflowError) as error:
        raise ValidationError(RUN_AT, f"is not a valid time: {error}") from None


def utc_offset(zone: str) -> timezone:
    if zone in ("Z", "z"):
        return UTC
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return timezone(-offset if zone[0] == "-" else offset)


def microseconds(fraction: str) -> int:
    rounded_up = 1 if fraction[6:].strip("0") else 0
    return int(fraction[:6].ljust(6, "0")) + rounded_up


def scheduled_for(due: int) -> str:
    """``2026-12-02T10:00:00Z``: the second a delayed job is filed under."""
    return rfc3339_utc(datetime.fromtimestamp(due, UTC))
