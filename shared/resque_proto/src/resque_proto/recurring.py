"""Recurring schedule definitions, as resque-scheduler reads them, and their periods.

A definition is the JSON (or YAML) object of docs/protocol.md section 8: ``cron``
or ``every``, ``class``, ``queue``, ``args``, ``description``. Each entry fires
once per *period*: for a cron entry the period starts at each cron time, for an
``every`` entry at each multiple of the interval since the Unix epoch, so that
every replica computes the same periods without talking to the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from resque_proto.errors import ValidationError
from resque_proto.payload import validate_class, validate_queue

DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdwy]|ms)")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
RESOLUTION = timedelta(microseconds=1)


def parse_every(value: object) -> float:
    """rufus-scheduler durations: ``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``, or seconds."""
    if isinstance(value, list) and value:
        value = value[0]  # ["1h", {"first_in": ...}]: the options are not supported
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif re.fullmatch(rf"(?:{DURATION_PART.pattern})+", text):
            seconds = sum(float(n) * UNIT_SECONDS[unit] for n, unit in DURATION_PART.findall(text))
        else:
            raise ValidationError("every", f"{value!r} is not a duration like 30s, 5m or 1h30m")
    else:
        raise ValidationError("every", f"{value!r} is not a duration like 30s, 5m or 1h30m")
    if seconds < 1:
        raise ValidationError("every", f"{value!r} is shorter than one second")
    return seconds


def parse_cron(value: object) -> tuple[str, tzinfo | None]:
    """A cron line as rufus-scheduler takes it: 5 fields, or 6 with seconds first,
    optionally followed by a time zone name. Returns croniter's form and the zone."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("cron", f"{value!r} is not a cron line")
    fields = value.split()
    zone: tzinfo | None = None
    if len(fields) in (6, 7) and any(char.isalpha() for char in fields[-1]):
        try:
            zone = ZoneInfo(fields[-1])
            fields = fields[:-1]
        except (ZoneInfoNotFoundError, ValueError, OSError):
            zone = None
    if len(fields) == 6:
        fields = [*fields[1:], fields[0]]  # croniter wants seconds last
    expression = " ".join(fields)
    if len(fields) not in (5, 6) or not croniter.is_valid(expression):
        raise ValidationError("cron", f"{value!r} is not a valid cron line")
    return expression, zone


def job_args(value: object) -> list[Any]:
    """resque-scheduler's ``args.is_a?(Hash) ? [args] : Array(args)``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


@dataclass(frozen=True)
class ScheduleEntry:
    name: str
    class_name: str
    queue: str
    args: list[Any]
    description: str = ""
    cron: str = ""  # croniter's form; empty for an ``every`` entry
    zone: tzinfo | None = None
    every: float = 0.0
    definition: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timing(self) -> str:
        """The schedule as written: the cron line or the ``every`` value."""
        return str(self.definition.get("cron") or self.definition.get("every"))

    def period_start(self, at: float) -> float:
        """Start of the period ``at`` falls in: the last firing time at or before it."""
        if not self.cron:
            return (at // self.every) * self.every
        start = self._moment(at) + RESOLUTION
        return float(croniter(self.cron, start).get_prev(datetime).timestamp())

    def next_fire(self, after: float) -> float:
        """The first firing time strictly after ``after``."""
        if not self.cron:
            return (after // self.every + 1) * self.every
        return float(croniter(self.cron, self._moment(after)).get_next(datetime).timestamp())

    def _moment(self, at: float) -> datetime:
        moment = datetime.fromtimestamp(at, UTC)
        return moment.astimezone(self.zone) if self.zone else moment.astimezone()


def parse_entry(name: str, definition: Mapping[str, Any]) -> ScheduleEntry:
    """Check one definition; raises ``ValidationError`` naming the bad member."""
    if not isinstance(definition, Mapping):
        raise ValidationError(name, "a schedule definition must be an object")
    class_name = validate_class(definition.get("class") or name)
    queue = definition.get("queue")
    if queue is None:
        raise ValidationError("queue", f"schedule {name!r} names no queue")
    validate_queue(queue)
    cron, zone, every = "", None, 0.0
    if definition.get("cron"):
        cron, zone = parse_cron(definition["cron"])
    elif definition.get("every"):
        every = parse_every(definition["every"])
    else:
        raise ValidationError(name, f"schedule {name!r} has neither cron nor every")
    return ScheduleEntry(
        name=name,
        class_name=class_name,
        queue=queue,
        args=job_args(definition.get("args")),
        description=str(definition.get("description") or ""),
        cron=cron,
        zone=zone,
        every=every,
        definition=dict(definition),
    )


def env_matches(definition: Mapping[str, Any], env: str | None) -> bool:
    """resque-scheduler's ``rails_env``/``env`` filter: absent means everywhere."""
    configured = definition.get("rails_env") or definition.get("env")
    if not configured:
        return True
    return env is not None and env in re.split(r"[\s,]+", str(configured))
