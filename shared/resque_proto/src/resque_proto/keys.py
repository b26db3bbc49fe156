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

    def idempotency(self, key: str) -> str:
        """String holding the first answer to an enqueue request with this key."""
        return self._k(OUR_PREFIX, "idempotency", key)
