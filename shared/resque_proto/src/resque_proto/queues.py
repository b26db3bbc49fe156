"""Queue administration: list, sizes, peek, remove a queue, remove jobs by class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto.errors import MalformedPayload
from resque_proto.jobs import ENQUEUED_AT_KEY
from resque_proto.keys import Keys
from resque_proto.payload import decode_payload, encode_json, validate_args
from resque_proto.text import text, texts


@dataclass(frozen=True)
class QueuedJob:
    """One entry of a queue as shown to people: raw bytes plus what could be decoded."""

    index: int
    raw: str
    class_name: str | None
    args: list[Any]
    extras: dict[str, Any]
    error: str | None = None

    @classmethod
    def decode(cls, index: int, raw: str) -> QueuedJob:
        try:
            job = decode_payload(raw)
        except MalformedPayload as error:
            return cls(index, raw, None, [], {}, str(error))
        return cls(index, raw, job.class_name, job.args, job.extras)


def enqueued_at(raw: bytes | str | None) -> float | None:
    """A payload's ``enqueued_at`` (epoch s); None when absent or not a number."""
    decoded = text(raw)
    if decoded is None:
        return None
    value = QueuedJob.decode(0, decoded).extras.get(ENQUEUED_AT_KEY)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class Queues:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def names(self) -> list[str]:
        return sorted(texts(self.redis.smembers(self.keys.queues)))

    def sizes(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Sizes of ``names`` (default: every known queue) in one pipeline."""
        queue_names = list(names) if names is not None else self.names()
        pipe = self.redis.pipeline(transaction=False)
        for name in queue_names:
            pipe.llen(self.keys.queue(name))
        return dict(zip(queue_names, (int(n) for n in pipe.execute()), strict=True))

    def size(self, name: str) -> int:
        return int(self.redis.llen(self.keys.queue(name)))

    def peek(self, name: str, start: int = 0, count: int = 20) -> list[QueuedJob]:
        raw = self.redis.lrange(self.keys.queue(name), start, start + count - 1)
        return [QueuedJob.decode(start + i, item) for i, item in enumerate(texts(raw))]

    def oldest_enqueued_at(self, name: str) -> float | None:
        """Enqueue time (epoch s) of the head job, when its payload carries one."""
        return enqueued_at(self.redis.lindex(self.keys.queue(name), 0))

    def pause(self, name: str) -> None:
        """Stop every worker taking jobs from ``name`` (resque-pause's key)."""
        self.redis.set(self.keys.paused_queue(name), "true")

    def resume(self, name: str) -> None:
        self.redis.delete(self.keys.paused_queue(name))

    def paused(self, names: Sequence[str] | None = None) -> set[str]:
        """Which of ``names`` (default: every known queue) are paused."""
        queue_names = list(names) if names is not None else self.names()
        pipe = self.redis.pipeline(transaction=False)
        for name in queue_names:
            pipe.exists(self.keys.paused_queue(name))
        return {name for name, on in zip(queue_names, pipe.execute(), strict=True) if on}

    def remove_queue(self, name: str) -> None:
        """Resque.remove_queue: forget the queue and drop its jobs."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(self.keys.queues, name)
        pipe.delete(self.keys.queue(name), self.keys.paused_queue(name))
        pipe.execute()

    def remove_jobs(self, name: str, class_name: str, args: Sequence[Any] | None = None) -> int:
        """Resque.dequeue (Ruby's ``Job.destroy``): remove from queue ``name`` every job
        of ``class_name`` and, with ``args``, only those whose arguments are ``args``
        (compared as Ruby encodes them, so ``1`` is not ``1.0`` nor ``true``). Unlike
        Ruby's LREM of ``{"class":..,"args":..}``, extra payload keys (our ``id``,
        ``enqueued_at``, ``attempt``, ...) and JSON spacing do not stop a match.
        Returns how many were removed.

        Read the queue, then LREM the exact bytes of each matching payload, in one
        MULTI: LREM compares whole payloads, so a job that does not match is never
        removed, whatever workers and producers did to the list in between. A job
        taken by a worker meanwhile is not counted; one pushed meanwhile is removed
        only if its bytes equal a matching one's. No Lua scan: decoding every payload
        inside Redis would block it for the length of a long queue."""
        key = self.keys.queue(name)
        wanted = None if args is None else encode_json(validate_args(list(args)))
        # A payload that matches is valid UTF-8, so its text encodes back to its bytes.
        matching = {
            raw for raw in texts(self.redis.lrange(key, 0, -1)) if _matches(raw, class_name, wanted)
        }
        if not matching:
            return 0
        pipe = self.redis.pipeline(transaction=True)
        for raw in matching:
            pipe.lrem(key, 0, raw)
        return sum(int(n) for n in pipe.execute())


def _matches(raw: str, class_name: str, args_json: str | None) -> bool:
    """Whether ``raw`` is a job of ``class_name`` with arguments encoding to ``args_json``
    (any arguments if None)."""
    try:
        job = decode_payload(raw)
    except MalformedPayload:
        return False
    return job.class_name == class_name and (
        args_json is None or encode_json(job.args) == args_json
    )
