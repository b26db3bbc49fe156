"""The Redis key layout: Resque 3.0's keys, plus ours under ``<ns>:pyresque:``.

Every key name the system touches is spelled here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_NAMESPACE = "resque"
OUR_PREFIX = "pyresque"


def namespace_from_env() -> str:
    return os.environ.get("RESQUE_NAMESPACE") or DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Keys:
    namespace: str = DEFAULT_NAMESPACE

    def _k(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    # -- Resque 3.0 keys -------------------------------------------------
    @property
    def queues(self) -> str:
        return self._k("queues")

    def queue(self, name: str) -> str:
        return self._k("queue", name)

    @property
    def queue_prefix(self) -> str:
        return self._k("queue", "")

    @property
    def workers(self) -> str:
        return self._k("workers")

    def worker(self, worker_id: str) -> str:
        return self._k("worker", worker_id)

    def worker_started(self, worker_id: str) -> str:
        return self._k("worker", worker_id, "started")

    @property
    def heartbeats(self) -> str:
        return self._k("workers", "heartbeat")

    @property
    def prune_lock(self) -> str:
        return self._k("pruning_dead_workers_in_progress")

    def stat(self, name: str, worker_id: str | None = None) -> str:
        return self._k("stat", name) if worker_id is None else self._k("stat", name, worker_id)

    @property
    def failed(self) -> str:
        return self._k("failed")

    @property
    def pause_all(self) -> str:
        return self._k("pause-all-workers")

    def paused_queue(self, name: str) -> str:
        """Present while queue ``name`` is paused (the Ruby resque-pause plugin's key)."""
        return self._k("pause", "queue", name)

    # -- resque-scheduler 4.x keys (docs/protocol.md, "Delayed and recurring jobs") --
    @property
    def delayed_schedule(self) -> str:
        """Sorted set of due timestamps (member = score = Unix seconds)."""
        return self._k("delayed_queue_schedule")

    def delayed(self, timestamp: int | str) -> str:
        """List of payloads due at ``timestamp`` (integer Unix seconds)."""
        return self._k("delayed", str(timestamp))

    def delayed_timestamps(self, payload: str) -> str:
        """Set of ``delayed:<ts>`` names (unprefixed) where ``payload`` is scheduled."""
        return self._k("timestamps", payload)

    @property
    def last_enqueued_at(self) -> str:
        """Hash schedule name -> Ruby ``Time#to_s`` of its last recurring enqueue."""
        return self._k("delayed", "last_enqueued_at")

    @property
    def schedules(self) -> str:
        """Hash schedule name -> JSON definition (resque-scheduler 4.0-4.3)."""
        return self._k("schedules")

    @property
    def persistent_schedules(self) -> str:
        """Hash schedule name -> JSON definition (resque-scheduler 4.4 and later)."""
        return self._k("persistent_schedules")

    @property
    def schedules_changed(self) -> str:
        return self._k("schedules_changed")

    @property
    def scheduler_lock(self) -> str:
        return self._k("resque_scheduler_master_lock")

    # -- our keys (documented in docs/protocol.md) -----------------------
    def inflight(self, worker_id: str) -> str:
        """List of jobs a worker has taken and not finished: ``<queue>\\n<payload>``."""
        return self._k(OUR_PREFIX, "inflight", worker_id)

    @property
    def our_heartbeats(self) -> str:
        """Hash worker id -> Redis-clock epoch seconds, for our workers only."""
        return self._k(OUR_PREFIX, "heartbeat")

    @property
    def redeliveries(self) -> str:
        """Hash payload -> times the job was recovered from a dead worker."""
        return self._k(OUR_PREFIX, "redeliveries")

    def durations(self, queue: str) -> str:
        """Hash of job-duration histogram buckets, ``sum`` and ``count`` for a queue."""
        return self._k(OUR_PREFIX, "duration", queue)

    @property
    def throughput_history(self) -> str:
        """Hash minute (epoch s) -> ``"<processed> <failed>"`` counter snapshot, last hour,
        kept by the frontend for its throughput chart."""
        return self._k(OUR_PREFIX, "history")

    def status(self, job_id: str) -> str:
        """A job's status JSON, with an expiry (docs/protocol.md, section 9)."""
        return self._k(OUR_PREFIX, "status", job_id)

    @property
    def retries(self) -> str:
        """Hash queue -> failed attempts rescheduled for a retry."""
        return self._k(OUR_PREFIX, "retries")

    @property
    def schedule_fired(self) -> str:
        """Hash schedule name -> epoch seconds of the last period it was enqueued for."""
        return self._k(OUR_PREFIX, "schedule", "fired")

    @property
    def schedule_file(self) -> str:
        """Set of the schedule names last loaded from a schedule file."""
        return self._k(OUR_PREFIX, "schedule", "file")

    @property
    def schedule_lag(self) -> str:
        """Histogram hash of due-to-enqueued delays of moved delayed jobs (all queues)."""
        return self._k(OUR_PREFIX, "schedule_lag")

    def idempotency(self, key: str) -> str:
        """String holding the first answer to an enqueue request with this key."""
        return self._k(OUR_PREFIX, "idempotency", key)
