"""``Idempotency-Key``: a retried request returns the first answer, enqueues nothing.

The first answer is stored under ``r.keys.idempotency(...)`` by the same Lua
script that pushes the jobs, files the delayed ones and writes their statuses,
so all of it happens together or not at all: there is no moment at which the
jobs are queued but the answer is not stored (a crash or timeout between two
separate commands would otherwise let a retry enqueue the jobs twice). The
stored record expires after ``ENQUEUER_IDEMPOTENCY_TTL`` seconds (default 24 h):
a retry after that window enqueues again.

Keys are scoped per caller (per bearer token), and the record remembers a
fingerprint of the request: reusing a key for a different request is a 409,
not a silent replay of an unrelated answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import redis

from resque_enqueuer.problems import Problem
from resque_enqueuer.replication import ReplicaWait, run_then_wait
from resque_enqueuer.writes import Writes
from resque_proto.jobs import TYPE_GUARD_LUA
from resque_proto.keys import Keys

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# visible ASCII, inner spaces allowed (HTTP strips leading and trailing ones)
KEY_PATTERN = "[!-~](?:[ -~]*[!-~])?"
PUSH_CHUNK = 1000

PUSH_ONCE_LUA = (
    TYPE_GUARD_LUA
    + """
-- KEYS: [1] idempotency record, [2] queues set, [3] delayed_queue_schedule, then
--   queue:<q> per queue, delayed:<ts> per second, timestamps:<payload> per delayed
--   payload, pyresque:status:<id> per job status
-- ARGV: [1] ttl, [2] record, [3] number of queues, [4] number of seconds,
--   [5] status expiry (s), [6] number of statuses, then
--   per queue (same order as its KEYS): name, payload count, payloads...;
--   per second (same order as its KEYS): ts, payload count, payloads... (the
--   timestamps:<payload> KEYS follow these payloads in this order);
--   the status bodies (same order as their KEYS), and last '1' to rewrite an
--   existing record (so a WAIT after a replay covers it) or '0'
local first_second = 4 + tonumber(ARGV[3])
local first_payload = first_second + tonumber(ARGV[4])
local first_status = #KEYS - tonumber(ARGV[6]) + 1
expect(KEYS[1], 'string')
expect(KEYS[2], 'set')
expect(KEYS[3], 'zset')
for k = 4, first_payload - 1 do expect(KEYS[k], 'list') end
for k = first_payload, first_status - 1 do expect(KEYS[k], 'set') end
for k = first_status, #KEYS do expect(KEYS[k], 'string') end
local previous = redis.call('GET', KEYS[1])
if previous then
  if ARGV[#ARGV] == '1' then redis.call('SET', KEYS[1], previous, 'KEEPTTL') end
  return previous
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])

-- RPUSH the count payloads from ARGV[first] on; the index after them
local function push(key, first, count)
  local last = first + count - 1
  for chunk = first, last, CHUNK do
    redis.call('RPUSH', key, unpack(ARGV, chunk, math.min(chunk + CHUNK - 1, last)))
  end
  return last + 1
end

local at = 7
for k = 4, first_second - 1 do
  redis.call('SADD', KEYS[2], ARGV[at])
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
  redis.call('ZADD', KEYS[3], ts, ts)
end
for k = first_status, #KEYS do
  redis.call('SET', KEYS[k], ARGV[at], 'EX', ARGV[5])
  at = at + 1
end
return false
""".replace("CHUNK", str(PUSH_CHUNK))
)


@dataclass(frozen=True)
class Replay:
    """The answer stored by the first request that carried the key."""

    status: int
    body: dict[str, Any]


def parse_key(header: str | None) -> str | None:
    """The header's value, or None when absent; 400 when unusable."""
    if header is None:
        return None
    if len(header) > MAX_KEY_LENGTH or not re.fullmatch(KEY_PATTERN, header):
        raise Problem(
            400,
            "invalid-idempotency-key",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (inner spaces "
            "allowed)",
        )
    return header


def record_name(keys: Keys, principal: str, key: str) -> str:
    digest = hashlib.sha256(f"{principal}\0{key}".encode()).hexdigest()
    return keys.idempotency(digest)


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotentPush:
    """Write jobs and store the answer atomically, unless the key was seen."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        ttl: int,
        status_ttl: int = 0,
        wait: ReplicaWait | None = None,
    ) -> None:
        self.keys = keys
        self.ttl = ttl
        self.status_ttl = status_ttl
        self.client = client
        self.wait = wait  # WAIT for replicas after each call (ENQUEUER_MIN_REPLICAS)
        self._script = client.register_script(PUSH_ONCE_LUA)

    def push_once(
        self,
        record: str,
        fingerprint: str,
        writes: Writes,
        answer: dict[str, Any],
        status: int = 202,
    ) -> Replay | None:
        """Write the jobs and store ``answer``; or return the stored answer (writing
        nothing) when ``record`` already exists."""
        stored = json.dumps({"fingerprint": fingerprint, "status": status, "body": answer})
        queues = writes.ready_by_queue()
        seconds = writes.delayed_by_second()
        statuses = writes.statuses if self.status_ttl > 0 else []
        args: list[str | int] = [
            self.ttl, stored, len(queues), len(seconds), self.status_ttl, len(statuses)
        ]  # fmt: skip
        for queue, payloads in queues.items():
            args += [queue, len(payloads), *payloads]
        for second, payloads in seconds.items():
            args += [second, len(payloads), *payloads]
        args += [status.body for status in statuses]
        args.append("1" if self.wait is not None else "0")
        keys = [
            record,
            self.keys.queues,
            self.keys.delayed_schedule,
            *(self.keys.queue(queue) for queue in queues),
            *(self.keys.delayed(second) for second in seconds),
            *(self.keys.delayed_timestamps(p) for payloads in seconds.values() for p in payloads),
            *(self.keys.status(status.job_id) for status in statuses),
        ]
        previous = self._run(keys, args)
        if previous is None:
            return None
        return replay(previous, fingerprint)

    def _run(self, keys: list[str], args: list[str | int]) -> Any:
        if self.wait is None:
            return self._script(keys=keys, args=args)
        try:
            return run_then_wait(self.client, [self._evalsha(keys, args)], self.wait)
        except redis.exceptions.NoScriptError:  # nothing ran: load it (a new primary?), again
            self._script.sha = self.client.script_load(PUSH_ONCE_LUA)
            return run_then_wait(self.client, [self._evalsha(keys, args)], self.wait)

    def _evalsha(self, keys: list[str], args: list[str | int]) -> tuple[Any, ...]:
        return ("EVALSHA", self._script.sha, len(keys), *keys, *args)


def replay(raw: bytes | str, fingerprint: str) -> Replay:
    stored = json.loads(raw)
    if stored.get("fingerprint") != fingerprint:
        raise Problem(
            409,
            "idempotency-key-reused",
            f"this {HEADER} was already used for a different request; use a new key",
        )
    return Replay(status=int(stored["status"]), body=stored["body"])
