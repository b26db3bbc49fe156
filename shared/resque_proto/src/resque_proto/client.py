"""``Resque``: every operation on one Redis and namespace (re-exported by the package)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import redis

from resque_proto.connection import connect
from resque_proto.delayed import Delayed
from resque_proto.delayed_payload import due_timestamp, encode_delayed_payload, epoch_seconds
from resque_proto.failures import Failures
from resque_proto.jobs import JOB_ID_KEY, Jobs, new_job_metadata
from resque_proto.keys import Keys, namespace_from_env
from resque_proto.payload import encode_payload
from resque_proto.prune import PrunePolicy, prune_dead_workers
from resque_proto.queues import Queues
from resque_proto.recovery import Recovery
from resque_proto.schedules import Schedules
from resque_proto.stats import Stats
from resque_proto.status import SCHEDULED, ttl_from_env
from resque_proto.waiter import QueueWaiter
from resque_proto.workers import Workers


class Resque:
    """All operations on one Redis and namespace, grouped by what they act on."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        namespace: str | None = None,
        status_ttl: int | None = None,
    ) -> None:
        """``status_ttl``: seconds a job status lives (docs/protocol.md, section 9);
        default ``RESQUE_STATUS_TTL`` or a day; 0 writes none."""
        self.redis = client if client is not None else connect()
        self.keys = Keys(namespace or namespace_from_env())
        self.status_ttl = ttl_from_env() if status_ttl is None else status_ttl
        self.jobs = Jobs(self.redis, self.keys, self.status_ttl)
        self.queues = Queues(self.redis, self.keys)
        self.failures = Failures(self.redis, self.keys)
        self.workers = Workers(self.redis, self.keys)
        self.stats = Stats(self.redis, self.keys)
        self.delayed = Delayed(self.redis, self.keys, self.status_ttl)
        self.schedules = Schedules(self.redis, self.keys)

    def enqueue(self, queue: str, class_name: str, *args: Any, metadata: bool = True) -> str:
        """Resque.enqueue. With ``metadata`` the payload also carries an ``id`` and
        ``enqueued_at`` (see docs/protocol.md: Ruby's dequeue-by-args can then no
        longer remove it). Returns the payload written."""
        extras = new_job_metadata() if metadata else None
        return self.jobs.push(queue, class_name, args, extras)

    def enqueue_many(
        self,
        jobs: Iterable[tuple[str, str, Sequence[Any]]],
        metadata: bool = True,
    ) -> list[str]:
        """Enqueue ``(queue, class, args)`` triples atomically; a bad one writes nothing."""
        pairs = [
            (queue, encode_payload(cls, args, new_job_metadata() if metadata else None))
            for queue, cls, args in jobs
        ]
        statuses = [self.jobs.queued_status(queue, payload) for queue, payload in pairs]
        self.jobs.push_many(pairs, [status for status in statuses if status])
        return [payload for _, payload in pairs]

    def enqueue_at(
        self,
        when: datetime | float,
        queue: str,
        class_name: str,
        *args: Any,
        metadata: bool = True,
    ) -> str:
        """resque-scheduler's ``enqueue_at_with_queue``: run the job at ``when`` (a
        ``datetime`` or epoch seconds), or now if that is not in the future. Returns
        the payload written: pass it to ``remove_delayed_payload`` to cancel."""
        if epoch_seconds(when) <= time.time():
            return self.enqueue(queue, class_name, *args, metadata=metadata)
        timestamp = due_timestamp(when)
        job_id = new_job_metadata()[JOB_ID_KEY] if metadata else None
        payload = encode_delayed_payload(queue, class_name, args, job_id)
        status = self.jobs.status_of(queue, payload, SCHEDULED, scheduled_for=timestamp)
        self.delayed.schedule([(timestamp, payload)], [status] if status else ())
        return payload

    def enqueue_in(
        self, seconds: float, queue: str, class_name: str, *args: Any, metadata: bool = True
    ) -> str:
        return self.enqueue_at(time.time() + seconds, queue, class_name, *args, metadata=metadata)

    def remove_delayed(self, queue: str, class_name: str, *args: Any) -> int:
        """Ruby's ``remove_delayed``: every delayed ``{"class","args","queue"}`` with
        exactly these values and no extra keys (a job scheduled with ``metadata``
        carries an id: remove it with ``remove_delayed_payload``)."""
        return self.delayed.remove_payload(encode_delayed_payload(queue, class_name, args))

    def remove_delayed_payload(self, payload: str) -> int:
        return self.delayed.remove_payload(payload)

    def scheduled_at(self, queue: str, class_name: str, *args: Any) -> list[int]:
        """The timestamps a Ruby-form delayed job is due at (see ``remove_delayed``)."""
        return self.delayed.scheduled_at(encode_delayed_payload(queue, class_name, args))

    def delayed_count(self) -> int:
        return self.delayed.count()

    def prune_dead_workers(
        self, pruner_id: str, policy: PrunePolicy | None = None
    ) -> list[Recovery]:
        return prune_dead_workers(self.redis, self.keys, pruner_id, policy)

    def waiter(self, fallback_poll: float = 0.1) -> QueueWaiter:
        return QueueWaiter(self.redis, self.keys, fallback_poll)


def enqueue(queue: str, class_name: str, *args: Any, **options: Any) -> str:
    """Enqueue on ``REDIS_URL``/``RESQUE_NAMESPACE`` from the environment."""
    return Resque().enqueue(queue, class_name, *args, **options)


def enqueue_many(jobs: Iterable[tuple[str, str, Sequence[Any]]], **options: Any) -> list[str]:
    return Resque().enqueue_many(jobs, **options)


def enqueue_at(
    when: datetime | float, queue: str, class_name: str, *args: Any, **options: Any
) -> str:
    return Resque().enqueue_at(when, queue, class_name, *args, **options)


def enqueue_in(seconds: float, queue: str, class_name: str, *args: Any, **options: Any) -> str:
    return Resque().enqueue_in(seconds, queue, class_name, *args, **options)
