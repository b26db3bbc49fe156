"""``Idempotency-Key``: a retried request returns the first answer, enqueues nothing.

The first answer is stored under ``r.keys.idempotency(...)`` by the same Lua
script that pushes the jobs, so the two happen together or not at all: there
is no moment at which the jobs are queued but the answer is not stored (a crash
or timeout between two separate commands would otherwise let a retry enqueue
the jobs twice). The stored record expires after ``ENQUEUER_IDEMPOTENCY_TTL``
seconds (default 24 h): a retry after that window enqueues again.

Keys are scoped per caller (per bearer token), and the record remembers a
fingerprint of the request: reusing a key for a different request is a 409,
not a silent replay of an unrelated answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_enqueuer.problems import Problem
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
-- KEYS[1] idempotency record, KEYS[2] queues set, KEYS[3..] queue:<q>, one per queue
-- ARGV[1] ttl, ARGV[2] record, then per queue (same order as KEYS[3..]):
--   queue name, payload count, payloads...
expect(KEYS[1], 'string')
expect(KEYS[2], 'set')
for k = 3, #KEYS do expect(KEYS[k], 'list') end
local previous = redis.call('GET', KEYS[1])
if previous then return previous end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
local at = 3
for k = 3, #KEYS do
  redis.call('SADD', KEYS[2], ARGV[at])
  local count = tonumber(ARGV[at + 1])
  local first = at + 2
  local last = first + count - 1
  for chunk = first, last, CHUNK do
    redis.call('RPUSH', KEYS[k], unpack(ARGV, chunk, math.min(chunk + CHUNK - 1, last)))
  end
  at = last + 1
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
    """Push jobs and store the answer atomically, unless the key was seen."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl: int) -> None:
        self.keys = keys
        self.ttl = ttl
        self._script = client.register_script(PUSH_ONCE_LUA)

    def push_once(
        self,
        record: str,
        fingerprint: str,
        jobs: Sequence[tuple[str, str]],
        answer: dict[str, Any],
        status: int = 202,
    ) -> Replay | None:
        """Push ``(queue, payload)`` pairs and store ``answer``; or return the
        stored answer (pushing nothing) when ``record`` already exists."""
        by_queue: dict[str, list[str]] = {}
        for queue, payload in jobs:
            by_queue.setdefault(queue, []).append(payload)
        stored = json.dumps({"fingerprint": fingerprint, "status": status, "body": answer})
        args: list[str | int] = [self.ttl, stored]
        for queue, payloads in by_queue.items():
            args += [queue, len(payloads), *payloads]
        keys = [record, self.keys.queues, *(self.keys.queue(q) for q in by_queue)]
        previous = self._script(keys=keys, args=args)
        if previous is None:
            return None
        return replay(previous, fingerprint)


def replay(raw: bytes | str, fingerprint: str) -> Replay:
    stored = json.loads(raw)
    if stored.get("fingerprint") != fingerprint:
        raise Problem(
            409,
            "idempotency-key-reused",
            f"this {HEADER} was already used for a different request; use a new key",
        )
    return Replay(status=int(stored["status"]), body=stored["body"])
