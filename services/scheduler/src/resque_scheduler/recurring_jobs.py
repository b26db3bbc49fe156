"""The leader's half of the scheduler: recurring entries and the periods handled.

Each entry fires once per period (``ScheduleEntry.period_start``). The Lua call
behind ``Schedules.fire`` re-checks the lock and the period, so a stale leader or
a second replica can never enqueue a period twice; this object only decides when
to ask.
"""

from __future__ import annotations

import logging
import math

from resque_proto.errors import ValidationError
from resque_proto.recurring import ScheduleEntry, env_matches, parse_entry
from resque_proto.schedules import FIRED, NOT_LEADER, Schedules

log = logging.getLogger("resque_scheduler")


class RecurringJobs:
    def __init__(self, schedules: Schedules, lock_value: str, env: str | None, grace: float):
        self.schedules = schedules
        self.lock_value = lock_value
        self.env = env
        # On taking over, a period that began at most this long ago is still
        # enqueued (if nobody did): the old leader may have died right at its start.
        self.grace = grace
        self.entries: dict[str, ScheduleEntry] = {}
        self.handled: dict[str, float] = {}

    def load(self, now: float) -> None:
        """Read every definition from Redis; a bad one is logged and skipped."""
        self.schedules.take_changed()
        stored = self.schedules.stored()
        for name, problem in stored.unreadable.items():
            log.error("schedule %s is unreadable: %s", name, problem, extra={"schedule": name})
        entries: dict[str, ScheduleEntry] = {}
        for name, definition in stored.definitions.items():
            if not env_matches(definition, self.env):
                continue
            try:
                entries[name] = parse_entry(name, definition)
            except ValidationError as error:
                log.error("schedule %s skipped: %s", name, error, extra={"schedule": name})
        self.handled = {
            name: self._still_handled(name, entry) or self._first_handled(entry, now)
            for name, entry in entries.items()
        }
        self.entries = entries
        log.info("schedules loaded", extra={"schedules": sorted(entries)})

    def _still_handled(self, name: str, entry: ScheduleEntry) -> float | None:
        """The period handled for an entry loaded before and unchanged since."""
        return self.handled.get(name) if self.entries.get(name) == entry else None

    def _first_handled(self, entry: ScheduleEntry, now: float) -> float:
        start = entry.period_start(now)
        return start - 1 if now - start <= self.grace else start

    def reload_if_changed(self, now: float) -> None:
        if self.schedules.redis.scard(self.schedules.keys.schedules_changed):
            self.load(now)

    def fire_due(self, now: float) -> bool:
        """Enqueue every entry whose period has begun; False if we are not the leader."""
        for name, entry in self.entries.items():
            start = entry.period_start(now)
            if start <= self.handled[name]:
                continue
            outcome = self.schedules.fire(entry, start, self.lock_value)
            if outcome == NOT_LEADER:
                return False
            self.handled[name] = start
            if outcome == FIRED:
                log.info(
                    "queueing %s (%s)", entry.class_name, name,
                    extra={"schedule": name, "queue": entry.queue, "period": start},
                )  # fmt: skip
        return True

    def next_fire(self, now: float) -> float:
        """When the next entry is due (``inf`` when there are none)."""
        return min((entry.next_fire(now) for entry in self.entries.values()), default=math.inf)
