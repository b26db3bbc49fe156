"""Recurring schedules as the Schedule page shows them: every stored definition,
checked as a scheduler would check it, with its next and last run.

A definition that is not JSON, or that no scheduler would load, is a row with its
error rather than a failed page: anyone can write the ``schedules`` hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from resque_frontend.presenters import parse_time
from resque_proto import Resque
from resque_proto.leader import leader
from resque_proto.recurring import ScheduleEntry, parse_entry

# What checking a definition raises: ValidationError (a ValueError), croniter's error
# for a cron line that never fires, and IsADirectoryError (an OSError) from zoneinfo
# for a zone like "Europe".
UNUSABLE = (ValueError, OSError)


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    definition: Mapping[str, Any] = field(default_factory=dict)
    entry: ScheduleEntry | None = None
    error: str | None = None
    next_run: float | None = None
    last_run: str | None = None  # as the scheduler wrote it (Ruby's Time#to_s)

    @property
    def timing(self) -> str | None:
        """``cron`` or ``every`` as written, also for a definition that is invalid."""
        if self.entry is not None:
            return self.entry.timing
        written = self.definition.get("cron") or self.definition.get("every")
        return None if written is None else str(written)

    @property
    def environments(self) -> str | None:
        """``rails_env``/``env``: the only scheduler environments that load this entry."""
        value = self.definition.get("rails_env") or self.definition.get("env")
        return str(value) if value else None

    @property
    def last_run_at(self) -> datetime | None:
        return parse_time(self.last_run, "started")


@dataclass(frozen=True)
class ScheduleListing:
    rows: list[ScheduleRow]
    leader: str | None  # "<host>:<pid>" holding the scheduler lock, None when nobody does


def schedule_row(
    name: str, definition: Mapping[str, Any], now: float, last: str | None
) -> ScheduleRow:
    try:
        entry = parse_entry(name, definition)
        next_run = entry.next_fire(now)
    except UNUSABLE as error:
        return ScheduleRow(name, definition, error=str(error), last_run=last)
    return ScheduleRow(name, definition, entry, next_run=next_run, last_run=last)


def listing(resque: Resque, now: float) -> ScheduleListing:
    stored = resque.schedules.stored()
    last = resque.schedules.last_enqueued()
    rows = [schedule_row(name, body, now, last.get(name))
            for name, body in stored.definitions.items()]  # fmt: skip
    rows += [ScheduleRow(name, error=why, last_run=last.get(name))
             for name, why in stored.unreadable.items()]  # fmt: skip
    rows.sort(key=lambda row: row.name)
    return ScheduleListing(rows, leader(resque.redis, resque.keys))


def entry_named(resque: Resque, name: str) -> ScheduleEntry | None:
    """The valid entry stored under ``name``; None when there is none, or it is invalid."""
    definition = resque.schedules.stored().definitions.get(name)
    if definition is None:
        return None
    try:
        return parse_entry(name, definition)
    except UNUSABLE:
        return None
