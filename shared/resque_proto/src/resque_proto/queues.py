"""Queue administration: list, sizes, peek, remove a queue, remove jobs by class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto.errors import MalformedPayload
from resque_proto.jobs import ENQUEUED_AT_KEY
from resque_proto.keys import Keys
from resque_proto.payload import decode_payload, encode_payload
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

    def remove_jobs(self, name: str, class_name: str, args: list[Any] | None = None) -> int:
        """Resque.dequeue: with ``args``, LREM the exact Ruby encoding; else every job of
        the class. Returns how many were removed."""
        key = self.keys.queue(name)
        if args is not None:
            return int(self.redis.lrem(key, 0, encode_payload(class_name, args)))
        matching = {
            raw
            for raw in texts(self.redis.lrange(key, 0, -1))
            if QueuedJob.decode(0, raw).class_name == class_name
        }
        pipe = self.redis.pipeline(transaction=True)
        for raw in matching:
            pipe.lrem(key, 0, raw)
        return sum(int(n) for n in pipe.execute()) if matching else 0
