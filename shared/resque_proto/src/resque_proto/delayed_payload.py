"""Delayed-job payloads and due seconds, without redis-py (docs/protocol.md, section 8).

Kept apart from ``resque_proto.delayed`` (the Redis operations) so that the worker's
fork server, which must not load redis-py, can build a retry's payload.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from resque_proto.payload import encode_payload, validate_queue

QUEUE_KEY = "queue"


def epoch_seconds(when: datetime | float) -> float:
    """``when`` as Unix seconds; a naive ``datetime`` is local time, as everywhere in Python."""
    epoch = when.timestamp() if isinstance(when, datetime) else float(when)
    if not math.isfinite(epoch):
        raise ValueError(f"{when!r} is not a time")
    return epoch


def due_timestamp(when: datetime | float) -> int:
    """The integer second a job for ``when`` is filed under: rounded up, never early."""
    return math.ceil(epoch_seconds(when))


def encode_delayed_payload(
    queue: str,
    class_name: str,
    args: Sequence[Any],
    job_id: str | None = None,
    extras: Mapping[str, Any] | None = None,
) -> str:
    """``{"class","args"[,"id"][,extras],"queue"}``: resque-scheduler's
    ``job_to_hash_with_queue``, with ours before the queue."""
    validate_queue(queue)
    members: dict[str, Any] = {"id": job_id} if job_id else {}
    members.update(extras or {})
    members[QUEUE_KEY] = queue
    return encode_payload(class_name, args, members)
