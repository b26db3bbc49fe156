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
# The worker's scripts take the namespace prefix ("<ns>:") and the worker id and build
# their key names from them (as Keys does; a test compares the two), rather than taking
# every key as KEYS: the hot call then packs 17 arguments instead of 34, and the
# payload once. redis-py's packing of the longer call was a tenth of the in-process
# worker's CPU per job (docs/benchmarks.md).
RESERVE_LUA = (
    STATUS_LUA
    + """
-- ARGV[1] namespace prefix "<ns>:", ARGV[2] worker id, ARGV[3] status expiry (s, 0 =
-- none), ARGV[4] run_at (UTC), ARGV[5..] queue names in priority order
local prefix, worker = ARGV[1], ARGV[2]
for i = 5, #ARGV do
  local name = ARGV[i]
  if redis.call('EXISTS', prefix .. 'pause:queue:' .. name) == 0 then
    local payload = redis.call('LPOP', prefix .. 'queue:' .. name)
    if payload then
      local ok, job = pcall(cjson.decode, payload)
      local embedded = payload
      if not ok then embedded = cjson.encode(payload) end
      redis.call('RPUSH', prefix .. 'pyresque:inflight:' .. worker, name .. '\\n' .. payload)
      redis.call('SET', prefix .. 'worker:' .. worker, '{"queue":' .. cjson.encode(name) ..
        ',"run_at":"' .. ARGV[4] .. '","payload":' .. embedded .. '}')
      if ok then
        write_status(prefix, tonumber(ARGV[3]), job, name, 'running',
          {worker = worker, started_at = now_epoch()})
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
-- ARGV[1] namespace prefix "<ns>:", ARGV[2] worker id, ARGV[3] status expiry (s),
-- ARGV[4] queue, ARGV[5] payload, ARGV[6] histogram bucket field, ARGV[7] duration,
-- ARGV[8] failure record ('' if none), ARGV[9] job id ('' for no status),
-- ARGV[10] status JSON, ARGV[11] retry timestamp ('' for no retry), ARGV[12] retry payload
local prefix, worker, queue, payload = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
local retry_at, retry_payload = ARGV[11], ARGV[12]
local retry = retry_at ~= ''
local ours = prefix .. 'pyresque:'
local k = {  -- every key this script touches, named once (as Keys names them)
  inflight = ours .. 'inflight:' .. worker, working = prefix .. 'worker:' .. worker,
  processed = prefix .. 'stat:processed', processed_by = prefix .. 'stat:processed:' .. worker,
  failed = prefix .. 'stat:failed', failed_by = prefix .. 'stat:failed:' .. worker,
  records = prefix .. 'failed', redeliveries = ours .. 'redeliveries',
  durations = ours .. 'duration:' .. queue, retries = ours .. 'retries',
  schedule = prefix .. 'delayed_queue_schedule', due = prefix .. 'delayed:' .. retry_at,
  timestamps = prefix .. 'timestamps:' .. retry_payload, status = ours .. 'status:' .. ARGV[9],
}
expect(k.inflight, 'list')
for _, key in ipairs({k.processed, k.processed_by, k.failed, k.failed_by}) do
  expect(key, 'string')
end
for _, key in ipairs({k.redeliveries, k.durations, k.retries}) do expect(key, 'hash') end
expect(k.records, 'list')
if retry then
  expect(k.schedule, 'zset')
  expect(k.due, 'list')
  expect(k.timestamps, 'set')
end
if redis.call('LREM', k.inflight, 1, queue .. '\\n' .. payload) == 0 then return 0 end
redis.call('DEL', k.working)
redis.call('INCR', k.processed)
redis.call('INCR', k.processed_by)
redis.call('HDEL', k.redeliveries, payload)
redis.call('HINCRBY', k.durations, ARGV[6], 1)
redis.call('HINCRBYFLOAT', k.durations, 'sum', ARGV[7])
redis.call('HINCRBY', k.durations, 'count', 1)
if retry then
  redis.call('RPUSH', k.due, retry_payload)
  redis.call('SADD', k.timestamps, 'delayed:' .. retry_at)
  redis.call('ZADD', k.schedule, retry_at, retry_at)
  redis.call('HINCRBY', k.retries, queue, 1)
end
if ARGV[8] ~= '' or retry then
  if ARGV[8] ~= '' then redis.call('RPUSH', k.records, ARGV[8]) end
  redis.call('INCR', k.failed)
  redis.call('INCR', k.failed_by)
end
if ARGV[9] ~= '' and tonumber(ARGV[3]) > 0 then
  redis.call('SET', k.status, ARGV[10], 'EX', ARGV[3])
end
return 1
"""
)

# The worker's hot path: ack the job it ran and reserve its next one in one round trip.
# FINISH_LUA and RESERVE_LUA run unchanged, one after the other, as local functions
# whose ARGV parameter shadows the global; the call's ARGV is the finish's 12 followed
# by the reserve's run_at and queue names (the reserve's first three, prefix, worker id
# and status expiry, are the finish's). Returns {finished (0/1)} plus queue and payload
# when a job was reserved.
FINISH_THEN_RESERVE_LUA = (
    TYPE_GUARD_LUA
    + STATUS_LUA
    + "local function finish(ARGV)\n"
    + FINISH_LUA.removeprefix(TYPE_GUARD_LUA)
    + "\nend\nlocal function reserve(ARGV)\n"
    + RESERVE_LUA.removeprefix(STATUS_LUA)
    + """
end
local finish_args, reserve_args = {}, {ARGV[1], ARGV[2], ARGV[3]}
for i = 1, #ARGV do
  if i <= 12 then finish_args[i] = ARGV[i] else reserve_args[i - 9] = ARGV[i] end
end
local finished = finish(finish_args)
local found = reserve(reserve_args)
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
        self.prefix = keys.namespace + ":"  # the worker scripts build their key names on it
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
        found = self._reserve(args=[self.prefix, worker_id, self.status_ttl, timefmt.run_at(),
                                    *queues])  # fmt: skip
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
        *,
        status: StatusWrite | None = None,
        retry: RetryLater | None = None,
    ) -> bool:
        """Ack: count the job processed (and failed, with its record, or rescheduled for a
        retry), store its status; False if already done."""
        args = self._finish_args(worker_id, job, duration, failure_record, status, retry)
        return bool(self._finish(args=args))

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
        args = self._finish_args(worker_id, job, duration, failure_record, status, retry)
        reply = self._finish_then_reserve(args=[*args, timefmt.run_at(), *queues])
        if len(reply) < 3:
            return bool(reply[0]), None
        queue, payload = texts(reply[1:])
        return bool(reply[0]), Reserved(queue=queue, payload=payload)

    def _finish_args(
        self,
        worker_id: str,
        job: Reserved,
        duration: float,
        failure_record: str | None,
        status: StatusWrite | None,
        retry: RetryLater | None,
    ) -> list[str | int]:
        """FINISH_LUA's arguments, in its order."""
        return [
            self.prefix,
            worker_id,
            self.status_ttl,
            job.queue,
            job.payload,
            bucket_field(duration),
            repr(max(duration, 0.0)),
            failure_record or "",
            status.job_id if status else "",
            status.body if status else "",
            str(retry.timestamp) if retry else "",
            retry.payload if retry else "",
        ]

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
