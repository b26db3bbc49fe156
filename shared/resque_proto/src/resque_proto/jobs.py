"""Putting jobs on queues, and the reliable path a worker takes them through.

Enqueue is Resque's: ``SADD queues`` + ``RPUSH queue:<q>`` (``LPUSH`` for a job
that must run next). A worker reserves a job with one Lua call that pops the
first job from its ordered queue list and
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
from resque_proto.errors import MalformedPayload
from resque_proto.histogram import bucket_field
from resque_proto.keys import Keys
from resque_proto.payload import Job, decode_payload, encode_payload, validate_queue
from resque_proto.status import QUEUED, STATUS_LUA, job_id_of, status_json
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
RESERVE_LUA = (
    STATUS_LUA
    + """
-- KEYS[1] in-flight list, KEYS[2] worker:<id>, KEYS[3..] queue:<q> in priority order
-- ARGV[1] run_at (UTC), ARGV[2] namespace prefix "<ns>:", ARGV[3] worker id,
-- ARGV[4] status expiry (s, 0 = none), ARGV[5..] queue names matching KEYS[3..]
local prefix = ARGV[2]
for i = 3, #KEYS do
  local name = ARGV[i + 2]
  if redis.call('EXISTS', prefix .. 'pause:queue:' .. name) == 0 then
    local payload = redis.call('LPOP', KEYS[i])
    if payload then
      local ok, job = pcall(cjson.decode, payload)
      local embedded = payload
      if not ok then embedded = cjson.encode(payload) end
      redis.call('RPUSH', KEYS[1], name .. '\\n' .. payload)
      redis.call('SET', KEYS[2], '{"queue":' .. cjson.encode(name) .. ',"run_at":"' ..
        ARGV[1] .. '","payload":' .. embedded .. '}')
      if ok then
        write_status(prefix, tonumber(ARGV[4]), job, name, 'running',
          {worker = ARGV[3], started_at = now_epoch()})
      end
      return {name, payload}
    end
  end
end
return false
"""
)

FINISH_LUA = (
    TYPE_GUARD_LUA
    + """
-- KEYS: in-flight, worker:<id>, stat:processed, stat:processed:<id>, redeliveries,
--       duration hash, failed, stat:failed, stat:failed:<id>, status, retries hash,
--       delayed_queue_schedule, delayed:<ts>, timestamps:<retry payload>
-- ARGV: entry, payload, bucket field, duration, failure record ('' if none),
--       status JSON ('' for none), status expiry, retry timestamp ('' for no retry),
--       retry payload, queue
expect(KEYS[1], 'list')
for _, k in ipairs({3, 4, 8, 9}) do expect(KEYS[k], 'string') end
for _, k in ipairs({5, 6, 11}) do expect(KEYS[k], 'hash') end
expect(KEYS[7], 'list')
local retry = ARGV[8] ~= ''
if retry then
  expect(KEYS[12], 'zset')
  expect(KEYS[13], 'list')
  expect(KEYS[14], 'set')
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
redis.call('HDEL', KEYS[5], ARGV[2])
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('HINCRBYFLOAT', KEYS[6], 'sum', ARGV[4])
redis.call('HINCRBY', KEYS[6], 'count', 1)
if retry then
  redis.call('RPUSH', KEYS[13], ARGV[9])
  redis.call('SADD', KEYS[14], 'delayed:' .. ARGV[8])
  redis.call('ZADD', KEYS[12], ARGV[8], ARGV[8])
  redis.call('HINCRBY', KEYS[11], ARGV[10], 1)
end
if ARGV[5] ~= '' or retry then
  if ARGV[5] ~= '' then redis.call('RPUSH', KEYS[7], ARGV[5]) end
  redis.call('INCR', KEYS[8])
  redis.call('INCR', KEYS[9])
end
if ARGV[6] ~= '' and tonumber(ARGV[7]) > 0 then
  redis.call('SET', KEYS[10], ARGV[6], 'EX', ARGV[7])
end
return 1
"""
)

# The worker's hot path: ack the job it ran and reserve its next one in one round trip.
# FINISH_LUA and RESERVE_LUA run unchanged, one after the other, as local functions
# whose KEYS/ARGV parameters shadow the globals; the call's KEYS and ARGV are the
# finish's (14 keys, 10 args) followed by the reserve's. Returns {finished (0/1)}
# plus queue and payload when a job was reserved.
FINISH_THEN_RESERVE_LUA = (
    TYPE_GUARD_LUA
    + STATUS_LUA
    + "local function finish(KEYS, ARGV)\n"
    + FINISH_LUA.removeprefix(TYPE_GUARD_LUA)
    + "\nend\nlocal function reserve(KEYS, ARGV)\n"
    + RESERVE_LUA.removeprefix(STATUS_LUA)
    + """
end
local finish_keys, finish_args, reserve_keys, reserve_args = {}, {}, {}, {}
for i = 1, #KEYS do
  if i <= 14 then finish_keys[i] = KEYS[i] else reserve_keys[i - 14] = KEYS[i] end
end
for i = 1, #ARGV do
  if i <= 10 then finish_args[i] = ARGV[i] else reserve_args[i - 10] = ARGV[i] end
end
local finished = finish(finish_keys, finish_args)
local found = reserve(reserve_keys, reserve_args)
if found then return {finished, found[1], found[2]} end
return {finished}
"""
)

REQUEUE_LUA = """
-- KEYS: in-flight, worker:<id>, queue:<q>, status; ARGV: entry, payload, status JSON, expiry
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '' and tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
end
return 1
"""


@dataclass(frozen=True)
class StatusWrite:
    """A job status to store with the change that causes it."""

    job_id: str
    body: str


@dataclass(frozen=True)
class RetryLater:
    """A failed attempt to run again: the delayed payload and the second it is due."""

    timestamp: int
    payload: str


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
    def __init__(self, client: redis.Redis, keys: Keys, status_ttl: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.status_ttl = status_ttl
        self._reserve = client.register_script(RESERVE_LUA)
        self._finish = client.register_script(FINISH_LUA)
        self._requeue = client.register_script(REQUEUE_LUA)
        self._finish_then_reserve = client.register_script(FINISH_THEN_RESERVE_LUA)

    # -- producing ------------------------------------------------------
    def push_payload(
        self, queue: str, payload: str, status: StatusWrite | None = None, *, front: bool = False
    ) -> None:
        """Push already-encoded bytes: one round trip, atomic, never retried."""
        self.push_many([(queue, payload)], [status] if status else (), front=front)

    def push(
        self,
        queue: str,
        class_name: str,
        args: Sequence[Any] = (),
        extras: Mapping[str, Any] | None = None,
        *,
        front: bool = False,
    ) -> str:
        payload = encode_payload(class_name, args, extras)
        self.push_payload(queue, payload, self.queued_status(queue, payload), front=front)
        return payload

    def push_many(
        self,
        jobs: Iterable[tuple[str, str]],
        statuses: Iterable[StatusWrite] = (),
        *,
        front: bool = False,
    ) -> None:
        """Push ``(queue, encoded payload)`` pairs, and their statuses, all or nothing.
        ``front``: ``LPUSH`` to the head of each queue (they run next, in the order
        given) instead of Resque's ``RPUSH`` to the tail."""
        batch = [(validate_queue(queue), payload) for queue, payload in jobs]
        if not batch:
            return
        by_queue: dict[str, list[str]] = {}
        for queue, payload in batch:
            by_queue.setdefault(queue, []).append(payload)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(self.keys.queues, *by_queue)
        for queue, payloads in by_queue.items():
            if front:
                pipe.lpush(self.keys.queue(queue), *reversed(payloads))
            else:
                pipe.rpush(self.keys.queue(queue), *payloads)
        self.add_statuses(pipe, statuses)
        pipe.execute()

    def add_statuses(self, pipe: redis.client.Pipeline, statuses: Iterable[StatusWrite]) -> None:
        if self.status_ttl <= 0:
            return
        for status in statuses:
            pipe.set(self.keys.status(status.job_id), status.body, ex=self.status_ttl)

    def queued_status(self, queue: str, payload: str, **fields: Any) -> StatusWrite | None:
        """The ``queued`` status of a payload we are about to push (None without an id)."""
        return self.status_of(queue, payload, QUEUED, **fields)

    def status_of(self, queue: str, payload: str, state: str, **fields: Any) -> StatusWrite | None:
        if self.status_ttl <= 0:
            return None
        try:
            job = decode_payload(payload)
        except MalformedPayload:
            return None
        return self.status_for(job, queue, state, **fields)

    def status_for(self, job: Job, queue: str, state: str, **fields: Any) -> StatusWrite | None:
        """The status of a job already decoded (None without an id, or with statuses off)."""
        if self.status_ttl <= 0:
            return None
        job_id = job_id_of(job)
        if job_id is None:
            return None
        return StatusWrite(job_id, status_json(job, job_id, queue, state, **fields))

    # -- consuming ------------------------------------------------------
    def reserve(self, worker_id: str, queues: Sequence[str]) -> Reserved | None:
        """Take the first job of the first non-empty, unpaused queue into ``worker_id``'s
        hands (and mark it running)."""
        if not queues:
            return None
        keys, args = self._reserve_call(worker_id, queues)
        found = self._reserve(keys=keys, args=args)
        if not found:
            return None
        queue, payload = texts(found)
        return Reserved(queue=queue, payload=payload)

    def _reserve_call(
        self, worker_id: str, queues: Sequence[str]
    ) -> tuple[list[str], list[str | int]]:
        keys = [self.keys.inflight(worker_id), self.keys.worker(worker_id)]
        keys += [self.keys.queue(q) for q in queues]
        args: list[str | int] = [
            timefmt.run_at(), self.keys.namespace + ":", worker_id, self.status_ttl, *queues
        ]  # fmt: skip
        return keys, args

    def finish(
        self,
        worker_id: str,
        job: Reserved,
        duration: float,
        failure_record: str | None = None,
        *,
        status: StatusWrite | None = None,
        retry: RetryLater | None = None,
    ) -> bool:
        """Ack: count the job processed (and failed, with its record, or rescheduled for a
        retry), store its status; False if already done."""
        keys, args = self._finish_call(worker_id, job, duration, failure_record, status, retry)
        return bool(self._finish(keys=keys, args=args))

    def finish_then_reserve(
        self,
        worker_id: str,
        job: Reserved,
        duration: float,
        failure_record: str | None = None,
        *,
        status: StatusWrite | None = None,
        retry: RetryLater | None = None,
        queues: Sequence[str],
    ) -> tuple[bool, Reserved | None]:
        """``finish`` then ``reserve`` in one Lua call (one round trip instead of two), with
        exactly their effects; (what ``finish`` returns, what ``reserve`` returns)."""
        if not queues:
            return self.finish(worker_id, job, duration, failure_record, status=status,
                               retry=retry), None  # fmt: skip
        keys, args = self._finish_call(worker_id, job, duration, failure_record, status, retry)
        reserve_keys, reserve_args = self._reserve_call(worker_id, queues)
        reply = self._finish_then_reserve(keys=keys + reserve_keys, args=args + reserve_args)
        if len(reply) < 3:
            return bool(reply[0]), None
        queue, payload = texts(reply[1:])
        return bool(reply[0]), Reserved(queue=queue, payload=payload)

    def _finish_call(
        self,
        worker_id: str,
        job: Reserved,
        duration: float,
        failure_record: str | None,
        status: StatusWrite | None,
        retry: RetryLater | None,
    ) -> tuple[list[str], list[str | int]]:
        status_key = self.keys.status(status.job_id) if status else self.keys.status("-")
        retry_payload = retry.payload if retry else ""
        retry_at = str(retry.timestamp) if retry else ""
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
            status_key,
            self.keys.retries,
            self.keys.delayed_schedule,
            self.keys.delayed(retry_at or "-"),
            self.keys.delayed_timestamps(retry_payload),
        ]
        args: list[str | int] = [
            job.entry,
            job.payload,
            bucket_field(duration),
            repr(max(duration, 0.0)),
            failure_record or "",
            status.body if status else "",
            self.status_ttl,
            retry_at,
            retry_payload,
            job.queue,
        ]
        return keys, args

    def requeue(self, worker_id: str, job: Reserved) -> bool:
        """Nack: put the job back at the front of its queue; False if not in hand."""
        status = self.queued_status(job.queue, job.payload)
        keys = [
            self.keys.inflight(worker_id),
            self.keys.worker(worker_id),
            self.keys.queue(job.queue),
            self.keys.status(status.job_id if status else "-"),
        ]
        args: list[str | int] = [
            job.entry, job.payload, status.body if status else "", self.status_ttl
        ]  # fmt: skip
        return bool(self._requeue(keys=keys, args=args))

    def in_flight(self, worker_id: str) -> list[Reserved]:
        raw = self.redis.lrange(self.keys.inflight(worker_id), 0, -1)
        return [Reserved.from_entry(item) for item in texts(raw)]
