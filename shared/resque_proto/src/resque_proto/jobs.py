"""Putting jobs on queues, and the reliable path a worker takes them through.

Enqueue is Resque's: ``SADD queues`` + ``RPUSH queue:<q>``. A worker reserves a
job with one Lua call that pops the first job from its ordered queue list and
moves it, atomically, into the worker's in-flight list, recording Resque's
``worker:<id>`` value in the same step. ``finish`` (ack) and ``requeue`` (nack)
take it out again; both are idempotent, so a caller may retry them after a
connection error without counting or pushing anything twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto import timefmt
from resque_proto.histogram import bucket_field
from resque_proto.keys import Keys
from resque_proto.payload import encode_payload, validate_queue
from resque_proto.text import texts

JOB_ID_KEY = "id"
ENQUEUED_AT_KEY = "enqueued_at"
INFLIGHT_SEPARATOR = "\n"

# Redis does not roll back a script that fails halfway, e.g. on a key of the
# wrong type: scripts that must be all-or-nothing check every key first.
TYPE_GUARD_LUA = """
local function expect(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= kind then
    error('WRONGTYPE ' .. key .. ' holds a ' .. found .. ', not a ' .. kind, 0)
  end
end
"""
RESERVE_LUA = """
-- KEYS[1] in-flight list, KEYS[2] worker:<id>, KEYS[3..] queue:<q> in priority order
-- ARGV[1] run_at (UTC), ARGV[2..] queue names matching KEYS[3..]
for i = 3, #KEYS do
  local payload = redis.call('LPOP', KEYS[i])
  if payload then
    local name = ARGV[i - 1]
    local embedded = payload
    if not pcall(cjson.decode, payload) then embedded = cjson.encode(payload) end
    redis.call('RPUSH', KEYS[1], name .. '\\n' .. payload)
    redis.call('SET', KEYS[2], '{"queue":' .. cjson.encode(name) .. ',"run_at":"' ..
      ARGV[1] .. '","payload":' .. embedded .. '}')
    return {name, payload}
  end
end
return false
"""

FINISH_LUA = (
    TYPE_GUARD_LUA
    + """
-- KEYS: in-flight, worker:<id>, stat:processed, stat:processed:<id>, redeliveries,
--       duration hash, failed, stat:failed, stat:failed:<id>
-- ARGV: entry, payload, bucket field, duration, failure record ('' if none)
expect(KEYS[1], 'list')
for _, k in ipairs({3, 4, 8, 9}) do expect(KEYS[k], 'string') end
expect(KEYS[5], 'hash')
expect(KEYS[6], 'hash')
expect(KEYS[7], 'list')
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
redis.call('HDEL', KEYS[5], ARGV[2])
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('HINCRBYFLOAT', KEYS[6], 'sum', ARGV[4])
redis.call('HINCRBY', KEYS[6], 'count', 1)
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[7], ARGV[5])
  redis.call('INCR', KEYS[8])
  redis.call('INCR', KEYS[9])
end
return 1
"""
)

REQUEUE_LUA = """
-- KEYS: in-flight, worker:<id>, queue:<q>; ARGV: entry, payload
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""


@dataclass(frozen=True)
class Reserved:
    """A job a worker holds: its queue, exact payload bytes and in-flight entry."""

    queue: str
    payload: str

    @property
    def entry(self) -> str:
        return f"{self.queue}{INFLIGHT_SEPARATOR}{self.payload}"

    @classmethod
    def from_entry(cls, entry: str) -> Reserved:
        queue, _, payload = entry.partition(INFLIGHT_SEPARATOR)
        return cls(queue=queue, payload=payload)


def new_job_metadata() -> dict[str, Any]:
    """Extra payload keys our producers add: a job id and the enqueue time (epoch s)."""
    return {JOB_ID_KEY: uuid.uuid4().hex, ENQUEUED_AT_KEY: round(time.time(), 6)}


class Jobs:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._reserve = client.register_script(RESERVE_LUA)
        self._finish = client.register_script(FINISH_LUA)
        self._requeue = client.register_script(REQUEUE_LUA)

    # -- producing ------------------------------------------------------
    def push_payload(self, queue: str, payload: str) -> None:
        """Push already-encoded bytes: one round trip, atomic, never retried."""
        validate_queue(queue)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(self.keys.queues, queue)
        pipe.rpush(self.keys.queue(queue), payload)
        pipe.execute()

    def push(
        self,
        queue: str,
        class_name: str,
        args: Sequence[Any] = (),
        extras: Mapping[str, Any] | None = None,
    ) -> str:
        payload = encode_payload(class_name, args, extras)
        self.push_payload(queue, payload)
        return payload

    def push_many(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Push ``(queue, encoded payload)`` pairs all at once or not at all."""
        batch = [(validate_queue(queue), payload) for queue, payload in jobs]
        if not batch:
            return
        by_queue: dict[str, list[str]] = {}
        for queue, payload in batch:
            by_queue.setdefault(queue, []).append(payload)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(self.keys.queues, *by_queue)
        for queue, payloads in by_queue.items():
            pipe.rpush(self.keys.queue(queue), *payloads)
        pipe.execute()

    # -- consuming ------------------------------------------------------
    def reserve(self, worker_id: str, queues: Sequence[str]) -> Reserved | None:
        """Take the first job of the first non-empty queue into ``worker_id``'s hands."""
        if not queues:
            return None
        keys = [self.keys.inflight(worker_id), self.keys.worker(worker_id)]
        keys += [self.keys.queue(q) for q in queues]
        found = self._reserve(keys=keys, args=[timefmt.run_at(), *queues])
        if not found:
            return None
        queue, payload = texts(found)
        return Reserved(queue=queue, payload=payload)

    def finish(
        self,
        worker_id: str,
        job: Reserved,
        duration: float,
        failure_record: str | None = None,
    ) -> bool:
        """Ack: count the job processed (and failed, with its record); False if already done."""
        keys = [
            self.keys.inflight(worker_id),
            self.keys.worker(worker_id),
            self.keys.stat("processed"),
            self.keys.stat("processed", worker_id),
            self.keys.redeliveries,
            self.keys.durations(job.queue),
            self.keys.failed,
            self.keys.stat("failed"),
            self.keys.stat("failed", worker_id),
        ]
        args = [
            job.entry,
            job.payload,
            bucket_field(duration),
            repr(max(duration, 0.0)),
            failure_record or "",
        ]
        return bool(self._finish(keys=keys, args=args))

    def requeue(self, worker_id: str, job: Reserved) -> bool:
        """Nack: put the job back at the front of its queue; False if not in hand."""
        keys = [
            self.keys.inflight(worker_id),
            self.keys.worker(worker_id),
            self.keys.queue(job.queue),
        ]
        return bool(self._requeue(keys=keys, args=[job.entry, job.payload]))

    def in_flight(self, worker_id: str) -> list[Reserved]:
        raw = self.redis.lrange(self.keys.inflight(worker_id), 0, -1)
        return [Reserved.from_entry(item) for item in texts(raw)]
