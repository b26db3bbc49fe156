"""Turn Redis values into what people read: job classes, args, times, durations.

Everything here returns plain values; templates escape them (Jinja autoescape),
so job args and error texts from anyone who can enqueue stay inert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from resque_proto import timefmt

ACTIVE_JOB_WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper"
SECTIONS = {
    "queue": "queues",
    "worker": "workers",
    "failed_list": "failed",
    "failure": "failed",
    "keys": "stats",
    "key": "stats",
    "delayed_list": "delayed",
    "delayed_timestamp": "delayed",
    "schedule_list": "schedule",
    "job_lookup": "jobs",
    "job_status": "jobs",
}


def section_of(endpoint: str | None) -> str:
    """The navigation section a view belongs to (``pages.queue`` -> ``queues``)."""
    name = (endpoint or "").rpartition(".")[2]
    return SECTIONS.get(name, name)


@dataclass(frozen=True)
class JobView:
    """A payload as resque-web shows it: ActiveJob wrappers by their real class."""

    class_name: str
    args: list[Any]
    wrapper: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def args_text(self) -> str:
        return ", ".join(compact(arg) for arg in self.args)


def job_view(payload: Any) -> JobView:
    if not isinstance(payload, dict):
        return JobView(class_name="(unreadable payload)", args=[payload])
    class_name = payload.get("class")
    args = payload.get("args")
    args = args if isinstance(args, list) else [] if args is None else [args]
    extras = {k: v for k, v in payload.items() if k not in {"class", "args"}}
    name = class_name if isinstance(class_name, str) else "(no class)"
    if name == ACTIVE_JOB_WRAPPER and args and isinstance(args[0], dict):
        inner = args[0]
        real = inner.get("job_class")
        if isinstance(real, str):
            arguments = inner.get("arguments")
            return JobView(
                class_name=real,
                args=arguments if isinstance(arguments, list) else [],
                wrapper=name,
                extras={"job_id": inner.get("job_id"), **extras},
            )
    return JobView(class_name=name, args=args, extras=extras)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def readable(value: Any, width: int = 100) -> str:
    """One line when it fits in ``width`` characters, else indented JSON."""
    line = compact(value)
    return line if len(line) <= width else pretty(value)


def parse_time(value: Any, kind: str) -> datetime | None:
    """Parse one of Resque's time formats (``run_at``, ``started``, ``heartbeat``,
    ``failed_at``); None when absent or not in that format."""
    if not isinstance(value, str) or not value:
        return None
    parser = {
        "run_at": timefmt.parse_run_at,
        "started": timefmt.parse_started,
        "heartbeat": timefmt.parse_heartbeat,
        "failed_at": timefmt.parse_failed_at,
    }[kind]
    try:
        return parser(value)
    except ValueError:
        return None


def seconds_between(earlier: datetime | None, now: float) -> float | None:
    return None if earlier is None else max(0.0, now - earlier.timestamp())


def human_duration(seconds: float | None) -> str:
    """``4.5ms``, ``120ms``, ``45s``, ``3m 12s``, ``2h 5m``, ``4d 3h``; a dash when unknown."""
    if seconds is None:
        return "\u2014"
    whole = int(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms" if seconds < 0.01 else f"{seconds * 1000:.0f}ms"
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 2:
        return "just now"
    return f"{human_duration(seconds)} ago"


def due(seconds: float) -> str:
    """``in 3m 12s``, ``due now``, ``2.0s overdue``: a scheduled time relative to now."""
    if abs(seconds) < 1:
        return "due now"
    if seconds > 0:
        return f"in {human_duration(seconds)}"
    return f"{human_duration(-seconds)} overdue"


def moment(epoch: float) -> datetime | None:
    """The UTC time of ``epoch`` seconds; None when it is no calendar time (year > 9999)."""
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def utc(epoch: float) -> str:
    """``2026-12-02 01:27:41 UTC``; the bare number when it is no calendar time."""
    at = moment(epoch)
    return f"{epoch:g}" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def minute(epoch: float) -> str:
    """``18:40 UTC`` for a chart bar's tooltip."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")
