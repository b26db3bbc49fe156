"""``Resque``: every operation on one Redis and namespace (re-exported by the package)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, overload

import redis

from resque_proto.connection import connect
from resque_proto.delayed import Delayed
from resque_proto.delayed_payload import due_timestamp, encode_delayed_payload, epoch_seconds
from resque_proto.failures import Failures
from resque_proto.jobs import JOB_ID_KEY, Jobs, new_job_metadata
from resque_proto.keys import Keys, namespace_from_env
from resque_proto.payload import encode_payload
from resque_proto.producer import (
    Enqueued,
    JobSpec,
    Target,
    delay_seconds,
    dequeue,
    dequeue_with_hooks,
    enqueue,
    enqueue_at,
    enqueue_front,
    enqueue_in,
    enqueue_many,
    enqueue_to,
    enqueue_with_hooks,
    resolve,
    resolve_spec,
    target_to,
)
from resque_proto.producer_hooks import ENQUEUE, run_after, run_before
from resque_proto.prune import PrunePolicy, prune_dead_workers
from resque_proto.queues import Queues
from resque_proto.recovery import Recovery, recover_worker
from resque_proto.schedules import Schedules
from resque_proto.stats import Stats
from resque_proto.status import SCHEDULED, ttl_from_env
from resque_proto.waiter import QueueWaiter
from resque_proto.workers import Workers

# The module-level functions live in resque_proto.producer (one shared client per
# process, inline mode); importable from here as before.
__all__ = [
    "Resque",
    "ResqueInfo",
    "dequeue",
    "enqueue",
    "enqueue_at",
    "enqueue_front",
    "enqueue_in",
    "enqueue_many",
    "enqueue_to",
]


class ResqueInfo(TypedDict):
    """``Resque.info``'s keys, as Ruby's (symbols there, strings here)."""

    pending: int
    processed: int
    queues: int
    workers: int
    working: int
    failed: int
    servers: list[str]
    environment: str


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

    # -- producing: see resque_proto.producer for the two call forms ----------------
    @overload
    def enqueue(self, job_class: type, /, *args: Any, metadata: bool = True) -> Enqueued: ...
    @overload
    def enqueue(
        self, queue: str, job: type | str, /, *args: Any, metadata: bool = True
    ) -> Enqueued: ...
    def enqueue(self, first: type | str, /, *rest: Any, metadata: bool = True) -> Enqueued:
        """Resque.enqueue: ``enqueue(Archive, 44)`` on the class's queue, or
        ``enqueue("file_serve", "Archive", 44)``. With ``metadata`` the payload also
        carries an ``id`` and ``enqueued_at`` (see docs/protocol.md: Ruby's
        dequeue-by-args can then no longer remove it; ours can). Returns the payload
        written, an ``Enqueued`` (a ``str`` with ``id`` and ``queue``), or an empty,
        falsey one if a ``before_enqueue*`` hook of the class returned False (the
        producer hooks run as in Ruby). Never runs inline: only the module-level
        functions and job class methods do."""
        target, args = resolve(first, rest, "enqueue")
        return self.enqueue_target(target, args, metadata)

    def enqueue_to(
        self, queue: str, job: type | str, /, *args: Any, metadata: bool = True
    ) -> Enqueued:
        """Resque.enqueue_to: on ``queue``, whatever the class's own queue."""
        return self.enqueue_target(target_to(queue, job), args, metadata)

    @overload
    def enqueue_front(self, job_class: type, /, *args: Any, metadata: bool = True) -> Enqueued: ...
    @overload
    def enqueue_front(
        self, queue: str, job: type | str, /, *args: Any, metadata: bool = True
    ) -> Enqueued: ...
    def enqueue_front(self, first: type | str, /, *rest: Any, metadata: bool = True) -> Enqueued:
        """``enqueue``, but to the head of the queue (``LPUSH``): the job runs next."""
        target, args = resolve(first, rest, "enqueue_front")
        return self.enqueue_target(target, args, metadata, front=True)

    def enqueue_target(
        self, target: Target, args: Sequence[Any], metadata: bool, *, front: bool = False
    ) -> Enqueued:
        """Push with the class's producer hooks around it."""
        return enqueue_with_hooks(
            target, args, lambda: self.push_target(target, args, metadata, front=front)
        )

    def push_target(
        self, target: Target, args: Sequence[Any], metadata: bool, *, front: bool = False
    ) -> Enqueued:
        """Push, running no hooks."""
        extras = new_job_metadata() if metadata else None
        payload = self.jobs.push(target.queue, target.class_name, args, extras, front=front)
        return Enqueued(payload, extras[JOB_ID_KEY] if extras else None, target.queue)

    def enqueue_many(self, jobs: Iterable[JobSpec], metadata: bool = True) -> list[Enqueued]:
        """Enqueue ``(queue, job, args)`` triples (a job class or class name) or
        ``(JobClass, args)`` pairs atomically; a bad one writes nothing. Each job's
        ``before_enqueue*`` hooks run first (one returning False leaves that job out
        of the batch and of the result), its ``after_enqueue*`` hooks after the write."""
        return self.enqueue_targets([resolve_spec(spec) for spec in jobs], metadata)

    def enqueue_targets(
        self, jobs: Sequence[tuple[Target, Sequence[Any]]], metadata: bool
    ) -> list[Enqueued]:
        allowed = [(t, args) for t, args in jobs if run_before(ENQUEUE, t.job_class, args)]
        written = self.push_targets(allowed, metadata)
        for target, args in allowed:
            run_after(ENQUEUE, target.job_class, args)
        return written

    def push_targets(
        self, jobs: Sequence[tuple[Target, Sequence[Any]]], metadata: bool
    ) -> list[Enqueued]:
        written: list[Enqueued] = []
        for target, args in jobs:
            extras = new_job_metadata() if metadata else None
            payload = encode_payload(target.class_name, args, extras)
            written.append(Enqueued(payload, extras[JOB_ID_KEY] if extras else None, target.queue))
        statuses = [self.jobs.queued_status(job.queue, job.payload) for job in written]
        self.jobs.push_many(
            [(job.queue, job.payload) for job in written], [status for status in statuses if status]
        )
        return written

    @overload
    def enqueue_at(
        self, when: datetime | float, job_class: type, /, *args: Any, metadata: bool = True
    ) -> Enqueued: ...
    @overload
    def enqueue_at(
        self,
        when: datetime | float,
        queue: str,
        job: type | str,
        /,
        *args: Any,
        metadata: bool = True,
    ) -> Enqueued: ...
    def enqueue_at(
        self, when: datetime | float, first: type | str, /, *rest: Any, metadata: bool = True
    ) -> Enqueued:
        """resque-scheduler's ``enqueue_at``/``enqueue_at_with_queue``: run the job at
        ``when`` (a ``datetime`` or epoch seconds), or now if that is not in the future.
        Returns the payload written (``scheduled_for`` set when delayed): pass it to
        ``remove_delayed_payload`` to cancel."""
        target, args = resolve(first, rest, "enqueue_at")
        return self.schedule_target(when, target, args, metadata)

    def schedule_target(
        self, when: datetime | float, target: Target, args: Sequence[Any], metadata: bool
    ) -> Enqueued:
        if epoch_seconds(when) <= time.time():  # no enqueue hooks, as resque-scheduler
            return self.push_target(target, args, metadata)
        timestamp = due_timestamp(when)
        job_id = new_job_metadata()[JOB_ID_KEY] if metadata else None
        payload = encode_delayed_payload(target.queue, target.class_name, args, job_id)
        status = self.jobs.status_of(target.queue, payload, SCHEDULED, scheduled_for=timestamp)
        self.delayed.schedule([(timestamp, payload)], [status] if status else ())
        return Enqueued(payload, job_id, target.queue, timestamp)

    @overload
    def enqueue_in(
        self, seconds: float | timedelta, job_class: type, /, *args: Any, metadata: bool = True
    ) -> Enqueued: ...
    @overload
    def enqueue_in(
        self,
        seconds: float | timedelta,
        queue: str,
        job: type | str,
        /,
        *args: Any,
        metadata: bool = True,
    ) -> Enqueued: ...
    def enqueue_in(
        self, seconds: float | timedelta, first: type | str, /, *rest: Any, metadata: bool = True
    ) -> Enqueued:
        """``enqueue_at`` in ``seconds`` (a number or a ``timedelta``)."""
        target, args = resolve(first, rest, "enqueue_in")
        return self.schedule_target(time.time() + delay_seconds(seconds), target, args, metadata)

    @overload
    def remove_delayed(self, job_class: type, /, *args: Any) -> int: ...
    @overload
    def remove_delayed(self, queue: str, job: type | str, /, *args: Any) -> int: ...
    def remove_delayed(self, first: type | str, /, *rest: Any) -> int:
        """Ruby's ``remove_delayed(Archive, 44)`` (or ``("file_serve", "Archive", 44)``):
        every delayed ``{"class","args","queue"}`` with exactly these values and no extra
        keys (a job scheduled with ``metadata`` carries an id: remove it with
        ``remove_delayed_payload``)."""
        target, args = resolve(first, rest, "remove_delayed")
        return self.delayed.remove_payload(
            encode_delayed_payload(target.queue, target.class_name, args)
        )

    def remove_delayed_payload(self, payload: str) -> int:
        return self.delayed.remove_payload(payload)

    @overload
    def scheduled_at(self, job_class: type, /, *args: Any) -> list[int]: ...
    @overload
    def scheduled_at(self, queue: str, job: type | str, /, *args: Any) -> list[int]: ...
    def scheduled_at(self, first: type | str, /, *rest: Any) -> list[int]:
        """The timestamps a Ruby-form delayed job is due at (see ``remove_delayed``)."""
        target, args = resolve(first, rest, "scheduled_at")
        return self.delayed.scheduled_at(
            encode_delayed_payload(target.queue, target.class_name, args)
        )

    def delayed_count(self) -> int:
        return self.delayed.count()

    # -- Resque's other library calls -------------------------------------------------
    @overload
    def dequeue(self, job_class: type, /, *args: Any) -> int | None: ...
    @overload
    def dequeue(self, queue: str, job: type | str, /, *args: Any) -> int | None: ...
    def dequeue(self, first: type | str, /, *rest: Any) -> int | None:
        """Resque.dequeue: remove the class's queued jobs with these arguments, or every
        job of the class without any (``Queues.remove_jobs``: payloads carrying our
        ``id``/``enqueued_at`` match too). Returns how many were removed, or None if a
        ``before_dequeue*`` hook of the class returned False."""
        target, args = resolve(first, rest, "dequeue")
        return self.dequeue_target(target, args)

    def dequeue_target(self, target: Target, args: Sequence[Any]) -> int | None:
        """Remove with the class's producer hooks around it; no ``args`` means every job
        of the class, as in Ruby."""
        return dequeue_with_hooks(
            target,
            args,
            lambda: self.queues.remove_jobs(target.queue, target.class_name, args or None),
        )

    def remove_worker(self, worker_id: str, redelivery_limit: int | None = None) -> Recovery | None:
        """Resque.remove_worker: unregister ``worker_id`` as the pruner does a dead worker.
        Its in-flight jobs go back to the front of their queues (redelivered more than
        ``redelivery_limit`` times, the pruner's default: a failure record instead), and
        a Ruby worker's job in hand becomes a failure record, as Ruby's DirtyExit. None if
        no such worker is registered. Meant for a worker that is gone: a live one's job
        would run again."""
        if not self.redis.sismember(self.keys.workers, worker_id):
            return None
        limit = PrunePolicy().redelivery_limit if redelivery_limit is None else redelivery_limit
        return recover_worker(self.redis, self.keys, worker_id, requeue_limit=limit)

    def info(self) -> ResqueInfo:
        """Resque.info: the overview counters. ``pending`` sums the known queues'
        lengths, ``working`` counts workers with a job in hand, ``failed`` is the length
        of the failed list (not ``stat:failed``), ``servers`` names the Redis (no
        password), ``environment`` is ``RAILS_ENV`` or ``RACK_ENV`` or ``development``."""
        worker_ids = self.workers.ids()
        pipe = self.redis.pipeline(transaction=False)
        for worker_id in worker_ids:
            pipe.get(self.keys.worker(worker_id))
        in_hand = pipe.execute() if worker_ids else []
        sizes = self.queues.sizes()
        return {
            "pending": sum(sizes.values()),
            "processed": self.stats.processed(),
            "queues": len(sizes),
            "workers": len(worker_ids),
            "working": sum(1 for job in in_hand if job),
            "failed": self.failures.count(),
            "servers": [server_name(self.redis)],
            "environment": os.environ.get("RAILS_ENV", os.environ.get("RACK_ENV", "development")),
        }

    def prune_dead_workers(
        self, pruner_id: str, policy: PrunePolicy | None = None
    ) -> list[Recovery]:
        return prune_dead_workers(self.redis, self.keys, pruner_id, policy)

    def waiter(self, fallback_poll: float = 0.1) -> QueueWaiter:
        return QueueWaiter(self.redis, self.keys, fallback_poll)


def server_name(client: redis.Redis) -> str:
    """Which Redis ``client`` talks to, as a URL without credentials (Ruby's ``redis_id``)."""
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={db}"
    if "host" in kwargs:
        scheme = "rediss" if issubclass(pool.connection_class, redis.SSLConnection) else "redis"
        return f"{scheme}://{kwargs['host']}:{kwargs.get('port', 6379)}/{db}"
    return repr(pool)
