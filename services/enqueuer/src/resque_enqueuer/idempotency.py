"""``Idempotency-Key``: a retried request returns the first answer, enqueues nothing.

The first answer is stored under ``r.keys.idempotency(...)`` by the same Lua
script that pushes the jobs, files the delayed ones and writes their statuses
(writes.py),
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

from resque_enqueuer.problems import Problem
from resque_enqueuer.writes import Once
from resque_proto.keys import Keys

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# visible ASCII, inner spaces allowed (HTTP strips leading and trailing ones)
KEY_PATTERN = "[!-~](?:[ -~]*[!-~])?"


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


def once(
    keys: Keys, principal: str, key: str, request: str, answer: Any, ttl: int, status: int = 202
) -> Once:
    """The record to store with the jobs: the answer and the request's fingerprint."""
    stored = json.dumps({"fingerprint": request, "status": status, "body": answer})
    return Once(record_name(keys, principal, key), stored, ttl)


def replay(raw: bytes | str, fingerprint: str) -> Replay:
    stored = json.loads(raw)
    if stored.get("fingerprint") != fingerprint:
        raise Problem(
            409,
            "idempotency-key-reused",
            f"this {HEADER} was already used for a different request; use a new key",
        )
    return Replay(status=int(stored["status"]), body=stored["body"])
