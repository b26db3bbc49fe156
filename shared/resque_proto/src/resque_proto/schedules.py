"""Recurring schedules in Redis: the definitions, their bookkeeping, and firing.

Definitions live in resque-scheduler's ``schedules`` hash (and, read only, 4.4's
``persistent_schedules``). Firing is one Lua call that checks the leader lock and
our ``schedule:fired`` record, so each period is enqueued at most once however
many schedulers believe they lead (docs/protocol.md, section 8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto import timefmt
from resque_proto.jobs import new_job_metadata
from resque_proto.keys import Keys
from resque_proto.payload import decode_json, encode_json, encode_payload
from resque_proto.recurring import ScheduleEntry
from resque_proto.text import text, texts

# KEYS: lock, schedule:fired, delayed:last_enqueued_at, queues, queue:<q>
# ARGV: lock value, name, period start, Time#to_s, payload, queue
FIRE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '-1')
if last and last >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('RPUSH', KEYS[5], ARGV[5])
return 1
"""

NOT_LEADER, ALREADY_FIRED, FIRED = -1, 0, 1


@dataclass(frozen=True)
class StoredSchedules:
    """Definitions read from Redis, and the names whose JSON could not be read."""

    definitions: dict[str, dict[str, Any]]
    unreadable: dict[str, str]


def _definition(body: str) -> tuple[dict[str, Any] | None, str]:
    """A stored definition, or None and why it cannot be read."""
    try:
        value = decode_json(body)
    except ValueError as error:
        return None, f"not JSON: {error}"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return value, ""


class Schedules:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._fire = client.register_script(FIRE_LUA)

    # -- definitions ----------------------------------------------------
    def stored(self) -> StoredSchedules:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.persistent_schedules)
        pipe.hgetall(self.keys.schedules)
        definitions: dict[str, dict[str, Any]] = {}
        unreadable: dict[str, str] = {}
        for table in pipe.execute():
            for raw_name, raw in table.items():
                name, body = text(raw_name) or "", text(raw) or ""
                value, problem = _definition(body)
                if value is None:
                    unreadable[name] = problem
                    definitions.pop(name, None)
                else:
                    definitions[name] = value
                    unreadable.pop(name, None)
        return StoredSchedules(definitions, unreadable)

    def put(self, name: str, definition: Mapping[str, Any]) -> None:
        """Resque.set_schedule: write the definition and flag the change."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.schedules, name, encode_json(dict(definition)))
        pipe.sadd(self.keys.schedules_changed, name)
        pipe.execute()

    def sync_file(self, definitions: Mapping[str, Mapping[str, Any]]) -> set[str]:
        """Make ``schedules`` hold a schedule file's entries: write the ones that
        differ, and delete the ones an earlier version of the file had and this one
        has not (names recorded in ``pyresque:schedule:file``). Entries added by other
        means are left alone. Returns the names changed."""
        wanted = {name: encode_json(dict(body)) for name, body in definitions.items()}
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(self.keys.schedule_file)
        pipe.hgetall(self.keys.schedules)
        previous_raw, current_raw = pipe.execute()
        current = {text(k): text(v) for k, v in current_raw.items()}
        stale = set(texts(previous_raw)) - set(wanted)
        changed = {name for name, body in wanted.items() if current.get(name) != body}
        pipe = self.redis.pipeline(transaction=True)
        if changed:
            pipe.hset(self.keys.schedules, mapping={name: wanted[name] for name in changed})
        if stale:
            pipe.hdel(self.keys.schedules, *stale)
            pipe.hdel(self.keys.persistent_schedules, *stale)
        pipe.delete(self.keys.schedule_file)
        if wanted:
            pipe.sadd(self.keys.schedule_file, *wanted)
        if changed | stale:
            pipe.sadd(self.keys.schedules_changed, *(changed | stale))
        pipe.execute()
        return changed | stale

    def remove(self, names: Iterable[str]) -> None:
        """Resque.remove_schedule, for each name."""
        names = list(names)
        if not names:
            return
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.keys.schedules, *names)
        pipe.hdel(self.keys.persistent_schedules, *names)
        pipe.sadd(self.keys.schedules_changed, *names)
        pipe.execute()

    def take_changed(self) -> set[str]:
        """Consume ``schedules_changed`` (as the leading Ruby scheduler does)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.smembers(self.keys.schedules_changed)
        pipe.delete(self.keys.schedules_changed)
        members, _ = pipe.execute()
        return set(texts(members))

    # -- bookkeeping ----------------------------------------------------
    def last_enqueued(self) -> dict[str, str]:
        raw = self.redis.hgetall(self.keys.last_enqueued_at)
        return {text(k) or "": text(v) or "" for k, v in raw.items()}

    def fired_periods(self) -> dict[str, float]:
        raw = self.redis.hgetall(self.keys.schedule_fired)
        return {text(k) or "": float(text(v) or 0) for k, v in raw.items()}

    # -- firing ---------------------------------------------------------
    def fire(self, entry: ScheduleEntry, period_start: float, lock_value: str) -> int:
        """Enqueue ``entry`` for the period starting at ``period_start``, once.

        Returns ``FIRED``, ``ALREADY_FIRED`` or ``NOT_LEADER``."""
        payload = encode_payload(entry.class_name, entry.args, new_job_metadata())
        keys = [
            self.keys.scheduler_lock,
            self.keys.schedule_fired,
            self.keys.last_enqueued_at,
            self.keys.queues,
            self.keys.queue(entry.queue),
        ]
        args = [lock_value, entry.name, repr(period_start), timefmt.started(), payload, entry.queue]
        return int(self._fire(keys=keys, args=args))
