"""Ruby-compatible records: the ``worker:<id>`` "working on" value and failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resque_proto import timefmt
from resque_proto.payload import decode_json, encode_json

FAILURE_KEYS = ("failed_at", "payload", "exception", "error", "backtrace", "worker", "queue")
DIRTY_EXIT = "Resque::DirtyExit"
TERM_EXCEPTION = "Resque::TermException"
PRUNED_DIRTY_EXIT = "Resque::PruneDeadWorkerDirtyExit"


def payload_for_record(payload: str) -> Any:
    """A payload as records embed it: the decoded object, or, for bytes that are
    not JSON, ``{"class":null,"args":[],"raw":...}`` so resque-web can still show it."""
    try:
        return decode_json(payload)
    except ValueError:
        return {"class": None, "args": [], "raw": payload}


def working_record(queue: str, payload: Any, run_at: str | None = None) -> str:
    """``{"queue":...,"run_at":...,"payload":{...}}`` as Ruby's ``working_on`` writes it."""
    return encode_json({"queue": queue, "run_at": run_at or timefmt.run_at(), "payload": payload})


def failure_record(
    *,
    payload: Any,
    exception: str,
    error: str,
    backtrace: Sequence[str],
    worker: str,
    queue: str,
    failed_at: str | None = None,
    attempts: int | None = None,
) -> str:
    """A ``failed`` list entry in Resque::Failure::Redis's key order; ``attempts`` (how
    many ran, for jobs with a retry policy) is ours, after Resque's members."""
    record = {
        "failed_at": failed_at or timefmt.failed_at(),
        "payload": payload,
        "exception": exception,
        "error": error,
        "backtrace": list(backtrace),
        "worker": worker,
        "queue": queue,
    }
    if attempts is not None:
        record["attempts"] = attempts
    return encode_json(record)


def mark_retried(record: str, retried_at: str | None = None) -> str:
    """The same record with ``retried_at`` set (appended last, as Ruby does)."""
    body = decode_json(record)
    body["retried_at"] = retried_at or timefmt.failed_at()
    return encode_json(body)


@dataclass(frozen=True)
class Failure:
    """One decoded record of the ``failed`` list; ``raw`` addresses it for actions."""

    index: int
    raw: str
    failed_at: str | None
    payload: Any
    exception: str | None
    error: str | None
    backtrace: list[str]
    worker: str | None
    queue: str | None
    retried_at: str | None

    @property
    def class_name(self) -> str | None:
        if isinstance(self.payload, dict):
            value = self.payload.get("class")
            return value if isinstance(value, str) else None
        return None

    @classmethod
    def decode(cls, index: int, raw: str) -> Failure:
        try:
            body = decode_json(raw)
        except ValueError:
            body = {"error": "unreadable failure record", "payload": raw}
        if not isinstance(body, dict):
            body = {"error": "unreadable failure record", "payload": body}
        backtrace = body.get("backtrace") or []
        return cls(
            index=index,
            raw=raw,
            failed_at=body.get("failed_at"),
            payload=body.get("payload"),
            exception=body.get("exception"),
            error=body.get("error"),
            backtrace=[str(line) for line in backtrace] if isinstance(backtrace, list) else [],
            worker=body.get("worker"),
            queue=body.get("queue"),
            retried_at=body.get("retried_at"),
        )


def failure_id(raw: str) -> str:
    """A stable short id for a failure record: the SHA-1 of its bytes (first 16 hex)."""
    import hashlib

    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def dumps_pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
