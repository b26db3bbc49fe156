"""What one request writes to Redis, and writing it with one script call.

Jobs to run now are pushed as ``Resque.enqueue`` does; delayed jobs are filed
as resque-scheduler's ``delayed_push`` does (docs/protocol.md, section 8). A
batch may hold both, and both are written by the same script call, with every
job's status (``queued`` or ``scheduled``, docs/protocol.md, section 9) and,
for a request with an ``Idempotency-Key``, its stored answer: all or nothing.

One ``EVALSHA`` rather than ``MULTI`` + a command per key + ``EXEC``: one
command to pack and one reply to parse per request (measured in
docs/benchmarks.md), and every key's type is checked before anything is
written, so a key of the wrong type cannot half-write a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from resque_enqueuer.replication import ReplicaWait, run_then_wait
from resque_proto.jobs import TYPE_GUARD_LUA, StatusWrite
from resque_proto.keys import Keys

Group = TypeVar("Group", str, int)


@dataclass
class Writes:
    """The payloads of one request, in request order."""

    ready: list[tuple[str, str]] = field(default_factory=list)  # (queue, payload)
    delayed: list[tuple[int, str]] = field(default_factory=list)  # (due second, payload)
    statuses: list[StatusWrite] = field(default_factory=list)  # empty when statuses are off

    def __len__(self) -> int:
        return len(self.ready) + len(self.delayed)

    def ready_by_queue(self) -> dict[str, list[str]]:
        return grouped(self.ready)

    def delayed_by_second(self) -> dict[int, list[str]]:
        return grouped(self.delayed)


def grouped(pairs: Iterable[tuple[Group, str]]) -> dict[Group, list[str]]:
    groups: dict[Group, list[str]] = {}
    for group, payload in pairs:
        groups.setdefault(group, []).append(payload)
    return groups


PUSH_CHUNK = 1000  # payloads per RPUSH inside the script (Lua's unpack has a limit)

PUSH_LUA = (
    TYPE_GUARD_LUA
    + """
-- KEYS: [1] the idempotency record (only with an Idempotency-Key), then the queues set,
--   delayed_queue_schedule, queue:<q> per queue, delayed:<ts> per second,
--   timestamps:<payload> per delayed payload, pyresque:status:<id> per job status
-- ARGV: [1] record ttl, [2] record ('' for none: then KEYS has no record), [3] number of
--   queues, [4] number of seconds, [5] status expiry (s), [6] number of statuses, then
--   per queue (same order as its KEYS): name, payload count, payloads...;
--   per second (same order as its KEYS): ts, payload count, payloads... (the
--   timestamps:<payload> KEYS follow these payloads in this order);
--   the status bodies (same order as their KEYS), and last '1' to rewrite an
--   existing record (so a WAIT after a replay covers it) or '0'
-- Returns the record already stored (nothing written), or false.
local once = ARGV[2] ~= ''
local base = once and 1 or 0
local queues_set, schedule = KEYS[base + 1], KEYS[base + 2]
local first_queue = base + 3
local first_second = first_queue + tonumber(ARGV[3])
local first_payload = first_second + tonumber(ARGV[4])
local first_status = #KEYS - tonumber(ARGV[6]) + 1
if once then expect(KEYS[1], 'string') end
expect(queues_set, 'set')
expect(schedule, 'zset')
for k = first_queue, first_payload - 1 do expect(KEYS[k], 'list') end
for k = first_payload, first_status - 1 do expect(KEYS[k], 'set') end
for k = first_status, #KEYS do expect(KEYS[k], 'string') end
if once then
  local previous = redis.call('GET', KEYS[1])
  if previous then
    if ARGV[#ARGV] == '1' then redis.call('SET', KEYS[1], previous, 'KEEPTTL') end
    return previous
  end
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
end

-- RPUSH the count payloads from ARGV[first] on; the index after them
local function push(key, first, count)
  local last = first + count - 1
  for chunk = first, last, CHUNK do
    redis.call('RPUSH', key, unpack(ARGV, chunk, math.min(chunk + CHUNK - 1, last)))
  end
  return last + 1
end

local at = 7
for k = first_queue, first_second - 1 do
  redis.call('SADD', queues_set, ARGV[at])
  at = push(KEYS[k], at + 2, tonumber(ARGV[at + 1]))
end
local index = first_payload
for k = first_second, first_payload - 1 do
  local ts, count = ARGV[at], tonumber(ARGV[at + 1])
  at = push(KEYS[k], at + 2, count)
  for _ = 1, count do
    redis.call('SADD', KEYS[index], 'delayed:' .. ts)
    index = index + 1
  end
  redis.call('ZADD', schedule, ts, ts)
end
for k = first_status, #KEYS do
  redis.call('SET', KEYS[k], ARGV[at], 'EX', ARGV[5])
  at = at + 1
end
return false
""".replace("CHUNK", str(PUSH_CHUNK))
)


@dataclass(frozen=True)
class Once:
    """An ``Idempotency-Key``'s record: its key, what to store, for how long."""

    key: str
    stored: str
    ttl: int


class JobPush:
    """Write a request's jobs, delayed jobs and statuses (and its idempotency record)
    with one script call; with ``wait``, then ``WAIT`` for replicas."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        status_ttl: int = 0,
        wait: ReplicaWait | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.status_ttl = status_ttl
        self.wait = wait  # ENQUEUER_MIN_REPLICAS
        self._script = client.register_script(PUSH_LUA)

    def push(self, writes: Writes, once: Once | None = None) -> bytes | None:
        """Write everything; or, when ``once``'s record exists, write nothing and
        return the stored record."""
        keys, args = self.arguments(writes, once)
        if self.wait is None:
            previous = self._script(keys=keys, args=args)
        else:
            previous = self._run_then_wait(keys, args, self.wait)
        return previous or None

    def arguments(self, writes: Writes, once: Once | None) -> tuple[list[str], list[Any]]:
        queues = writes.ready_by_queue()
        seconds = writes.delayed_by_second()
        statuses = writes.statuses if self.status_ttl > 0 else []
        args: list[Any] = [
            once.ttl if once else 0, once.stored if once else "",
            len(queues), len(seconds), self.status_ttl, len(statuses),
        ]  # fmt: skip
        for queue, payloads in queues.items():
            args += [queue, len(payloads), *payloads]
        for second, payloads in seconds.items():
            args += [second, len(payloads), *payloads]
        args += [status.body for status in statuses]
        args.append("1" if self.wait is not None else "0")
        keys = [
            *([once.key] if once else []),
            self.keys.queues,
            self.keys.delayed_schedule,
            *(self.keys.queue(queue) for queue in queues),
            *(self.keys.delayed(second) for second in seconds),
            *(self.keys.delayed_timestamps(p) for payloads in seconds.values() for p in payloads),
            *(self.keys.status(status.job_id) for status in statuses),
        ]
        return keys, args

    def _run_then_wait(self, keys: list[str], args: list[Any], wait: ReplicaWait) -> Any:
        try:
            return run_then_wait(self.client, [self._evalsha(keys, args)], wait)
        except redis.exceptions.NoScriptError:  # nothing ran: load it (a new primary?), again
            self._script.sha = self.client.script_load(PUSH_LUA)
            return run_then_wait(self.client, [self._evalsha(keys, args)], wait)

    def _evalsha(self, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        return ("EVALSHA", self._script.sha, len(keys), *keys, *args)
