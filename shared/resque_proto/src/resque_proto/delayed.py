"""Delayed jobs in resque-scheduler's layout (docs/protocol.md, section 8).

A delayed job is a payload in ``delayed:<ts>`` (a list per second), indexed by
``delayed_queue_schedule`` (a sorted set of those seconds) and by
``timestamps:<payload>`` (where that exact payload is scheduled). Scheduling is
resque-scheduler's ``MULTI``; moving due jobs onto their queues is one Lua call
per batch, so a scheduler killed at any instant loses nothing and schedulers
racing each other (ours, Ruby's, Node's) move every payload exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import redis

from resque_proto import timefmt
from resque_proto.histogram import BUCKETS
from resque_proto.jobs import TYPE_GUARD_LUA, StatusWrite
from resque_proto.keys import Keys
from resque_proto.payload import encode_json
from resque_proto.status import STATUS_LUA
from resque_proto.text import texts

MOVE_BATCH = 1000
INVALID_PAYLOAD = "Resque::Scheduler::InvalidDelayedPayload"

# KEYS: delayed_queue_schedule, queues, failed, schedule_lag histogram
# ARGV: namespace prefix "<ns>:", batch limit, failed_at (as JSON text),
#       a single timestamp to move now whether due or not ('' for every due one),
#       job status expiry (s, 0 = none), then the histogram's bucket bounds in order.
MOVE_LUA = (
    TYPE_GUARD_LUA
    + STATUS_LUA
    + """
expect(KEYS[1], 'zset')
expect(KEYS[2], 'set')
expect(KEYS[3], 'list')
expect(KEYS[4], 'hash')
local prefix, limit, failed_at, only = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local status_ttl = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local now_f = now + tonumber(clock[2]) / 1000000
local micros = string.format('%06d', tonumber(clock[2]))
local now_text = string.gsub(clock[1] .. '.' .. micros, '0+$', '')
if string.sub(now_text, -1) == '.' then now_text = now_text .. '0' end

local function failure(embedded, message)
  return '{"failed_at":' .. failed_at .. ',"payload":' .. embedded ..
    ',"exception":"Resque::Scheduler::InvalidDelayedPayload","error":' .. cjson.encode(message) ..
    ',"backtrace":[],"worker":"resque-scheduler","queue":"delayed"}'
end

-- The queue and the job to push for a delayed payload, or nil and a failure record.
local function destination(payload)
  local ok, job = pcall(cjson.decode, payload)
  if not ok then
    local raw = '{"class":null,"args":[],"raw":' .. cjson.encode(payload) .. '}'
    return nil, failure(raw, 'delayed payload is not JSON')
  end
  if type(job) ~= 'table' or type(job['queue']) ~= 'string' or job['queue'] == '' then
    return nil, failure(payload, 'delayed payload has no "queue" string')
  end
  local queue = job['queue']
  local suffix = ',"queue":' .. cjson.encode(queue) .. '}'
  if #payload <= #suffix or string.sub(payload, -#suffix) ~= suffix then return queue, payload end
  local cut = string.sub(payload, 1, #payload - #suffix) .. '}'
  local fine, rest = pcall(cjson.decode, cut)
  if not fine or type(rest) ~= 'table' or rest['queue'] ~= nil then return queue, payload end
  if rest['id'] ~= nil and rest['enqueued_at'] == nil then
    cut = string.sub(cut, 1, #cut - 1) .. ',"enqueued_at":' .. now_text .. '}'
  end
  write_status(prefix, status_ttl, rest, queue, 'queued', {})
  return queue, cut
end

local function record_lag(ts, count)
  local lag = now_f - tonumber(ts)
  if lag < 0 then lag = 0 end
  local field = '+Inf'
  for i = 6, #ARGV do
    if lag <= tonumber(ARGV[i]) then field = ARGV[i]; break end
  end
  redis.call('HINCRBY', KEYS[4], field, count)
  redis.call('HINCRBYFLOAT', KEYS[4], 'sum', lag * count)
  redis.call('HINCRBY', KEYS[4], 'count', count)
end

local due
if only ~= '' then due = {only}
else due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit) end
local moved, invalid = 0, 0
for _, ts in ipairs(due) do
  local list, member = prefix .. 'delayed:' .. ts, 'delayed:' .. ts
  local here = 0
  local kind = redis.call('TYPE', list)['ok']
  if kind ~= 'none' and kind ~= 'list' then
    redis.call('RPUSH', KEYS[3], failure('{"class":null,"args":[]}', member .. ' holds a ' .. kind))
    invalid = invalid + 1
    redis.call('ZREM', KEYS[1], ts)
  end
  while kind == 'list' and moved + invalid < limit do
    local payload = redis.call('LPOP', list)
    if not payload then break end
    redis.call('SREM', prefix .. 'timestamps:' .. payload, member)
    local queue, job = destination(payload)
    local kind = queue and redis.call('TYPE', prefix .. 'queue:' .. queue)['ok']
    if kind and kind ~= 'none' and kind ~= 'list' then
      queue, job = nil, failure(payload, 'queue:' .. queue .. ' holds a ' .. kind)
    end
    if queue then
      redis.call('SADD', KEYS[2], queue)
      redis.call('RPUSH', prefix .. 'queue:' .. queue, job)
      moved, here = moved + 1, here + 1
    else
      redis.call('RPUSH', KEYS[3], job)
      invalid = invalid + 1
    end
  end
  if only == '' and here > 0 then record_lag(ts, here) end
  if kind == 'none' or (kind == 'list' and redis.call('LLEN', list) == 0) then
    redis.call('DEL', list)
    redis.call('ZREM', KEYS[1], ts)
  end
  if moved + invalid >= limit then break end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
return {clock[1], clock[2], moved, invalid, first[1] or '-1'}
"""
)

# KEYS: timestamps:<payload>, delayed_queue_schedule; ARGV: prefix, payload, only ts ('' = all)
REMOVE_PAYLOAD_LUA = """
local prefix, payload, only = ARGV[1], ARGV[2], ARGV[3]
local members = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for _, member in ipairs(members) do
  local ts = string.sub(member, 9)
  if only == '' or ts == only then
    removed = removed + redis.call('LREM', prefix .. member, 0, payload)
    redis.call('SREM', KEYS[1], member)
    if redis.call('LLEN', prefix .. member) == 0 then
      redis.call('DEL', prefix .. member)
      redis.call('ZREM', KEYS[2], ts)
    end
  end
end
return removed
"""

# KEYS: delayed:<ts>, delayed_queue_schedule; ARGV: prefix, ts
REMOVE_TIMESTAMP_LUA = """
local payloads = redis.call('LRANGE', KEYS[1], 0, -1)
for _, payload in ipairs(payloads) do
  redis.call('SREM', ARGV[1] .. 'timestamps:' .. payload, 'delayed:' .. ARGV[2])
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return #payloads
"""

# KEYS: delayed_queue_schedule; ARGV: prefix
COUNT_LUA = """
local total = 0
for _, ts in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  total = total + redis.call('LLEN', ARGV[1] .. 'delayed:' .. ts)
end
return total
"""


@dataclass(frozen=True)
class MoveResult:
    """What one move call did, and when the next job is due (Redis clock)."""

    moved: int
    invalid: int
    redis_time: float
    next_due: int | None

    @property
    def full_batch(self) -> bool:
        return self.moved + self.invalid >= MOVE_BATCH


class Delayed:
    """Every operation on the delayed-job keys of one namespace."""

    def __init__(self, client: redis.Redis, keys: Keys, status_ttl: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.status_ttl = status_ttl
        self.prefix = keys.namespace + ":"
        self._move = client.register_script(MOVE_LUA)
        self._remove_payload = client.register_script(REMOVE_PAYLOAD_LUA)
        self._remove_timestamp = client.register_script(REMOVE_TIMESTAMP_LUA)
        self._count = client.register_script(COUNT_LUA)

    # -- producing ------------------------------------------------------
    def schedule(
        self, entries: Iterable[tuple[int, str]], statuses: Iterable[StatusWrite] = ()
    ) -> None:
        """File ``(timestamp, delayed payload)`` pairs, and their statuses, in one ``MULTI``."""
        pipe = self.redis.pipeline(transaction=True)
        if self.status_ttl > 0:
            for status in statuses:
                pipe.set(self.keys.status(status.job_id), status.body, ex=self.status_ttl)
        stamps: set[int] = set()
        for timestamp, payload in entries:
            pipe.rpush(self.keys.delayed(timestamp), payload)
            pipe.sadd(self.keys.delayed_timestamps(payload), f"delayed:{timestamp}")
            stamps.add(timestamp)
        if not stamps:
            return
        pipe.zadd(self.keys.delayed_schedule, {str(ts): ts for ts in stamps})
        pipe.execute()

    # -- moving ---------------------------------------------------------
    def move_due(self, only: int | None = None) -> MoveResult:
        """Move up to one batch of due jobs (or every job of ``only``) onto their queues."""
        keys = [
            self.keys.delayed_schedule,
            self.keys.queues,
            self.keys.failed,
            self.keys.schedule_lag,
        ]
        args: list[str | int] = [
            self.prefix,
            MOVE_BATCH,
            encode_json(timefmt.failed_at()),
            "" if only is None else str(only),
            self.status_ttl,
            *(repr(bound) for bound in BUCKETS),
        ]
        seconds, micros, moved, invalid, first = self._move(keys=keys, args=args)
        following = int(first)
        return MoveResult(
            moved=int(moved),
            invalid=int(invalid),
            redis_time=int(seconds) + int(micros) / 1e6,
            next_due=None if following < 0 else following,
        )

    def run_now(self, timestamp: int) -> int:
        """Enqueue every job of ``timestamp`` at once (the dashboard's "run now")."""
        total = 0
        while True:
            result = self.move_due(only=timestamp)
            total += result.moved + result.invalid
            if not result.full_batch:
                return total

    # -- removing -------------------------------------------------------
    def remove_payload(self, payload: str, timestamp: int | None = None) -> int:
        """Remove every copy of these exact bytes (at ``timestamp`` only, if given)."""
        keys = [self.keys.delayed_timestamps(payload), self.keys.delayed_schedule]
        only = "" if timestamp is None else str(timestamp)
        return int(self._remove_payload(keys=keys, args=[self.prefix, payload, only]))

    def remove_timestamp(self, timestamp: int) -> int:
        keys = [self.keys.delayed(timestamp), self.keys.delayed_schedule]
        return int(self._remove_timestamp(keys=keys, args=[self.prefix, str(timestamp)]))

    # -- reading --------------------------------------------------------
    def scheduled_at(self, payload: str) -> list[int]:
        members = texts(self.redis.smembers(self.keys.delayed_timestamps(payload)))
        return sorted(int(member.removeprefix("delayed:")) for member in members)

    def count(self) -> int:
        """Every delayed job (one server-side pass over the timestamps)."""
        return int(self._count(keys=[self.keys.delayed_schedule], args=[self.prefix]))

    def timestamp_count(self) -> int:
        return int(self.redis.zcard(self.keys.delayed_schedule))

    def timestamps(self, start: int = 0, count: int = 50) -> list[tuple[int, int]]:
        """``(timestamp, jobs due then)`` oldest first, for one page."""
        if count <= 0:
            return []
        stamps = self._zrange(start, start + count - 1)
        pipe = self.redis.pipeline(transaction=False)
        for stamp in stamps:
            pipe.llen(self.keys.delayed(stamp))
        return [(int(stamp), int(size)) for stamp, size in zip(stamps, pipe.execute(), strict=True)]

    def size_at(self, timestamp: int) -> int:
        return int(self.redis.llen(self.keys.delayed(timestamp)))

    def jobs_at(self, timestamp: int, start: int = 0, count: int = 50) -> list[str]:
        return texts(self.redis.lrange(self.keys.delayed(timestamp), start, start + count - 1))

    def next_due(self) -> int | None:
        first = self._zrange(0, 0)
        return int(first[0]) if first else None

    def _zrange(self, start: int, stop: int) -> list[str]:
        return texts(cast(list[bytes], self.redis.zrange(self.keys.delayed_schedule, start, stop)))
