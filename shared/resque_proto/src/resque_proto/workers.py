"""Worker registry: register, heartbeat, unregister, list, as Resque 3.0 keeps it.

A worker id is ``<hostname>:<pid>:<queue patterns joined by ,>``, leaving out
``!skip`` entries as Resque 3.0's ``Worker#to_s`` does. Besides
Resque's heartbeat hash (ISO-8601 in the worker's local offset, read by Ruby's
pruner) our workers keep the Redis-clock epoch in ``pyresque:heartbeat``, which
also marks them as ours: they own an in-flight list that must be recovered.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from resque_proto import timefmt
from resque_proto.keys import Keys
from resque_proto.payload import decode_json
from resque_proto.queue_patterns import split_patterns
from resque_proto.text import text, texts


def make_worker_id(patterns: Sequence[str], pid: int, hostname: str | None = None) -> str:
    """Resque 3.0's ``Worker#to_s``: the queue patterns as given (order, globs and
    duplicates kept) without the ``!skip`` entries."""
    wanted, _ = split_patterns(patterns)
    return f"{hostname or socket.gethostname()}:{pid}:{','.join(wanted)}"


def parse_worker_id(worker_id: str) -> tuple[str, int | None, list[str]]:
    """(hostname, pid, queue patterns); tolerant of ids written by other libraries."""
    host, _, rest = worker_id.partition(":")
    pid_text, _, queues = rest.partition(":")
    pid = int(pid_text) if pid_text.isdigit() else None
    return host, pid, [q for q in queues.split(",") if q]


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int | None
    queues: list[str]
    started: str | None
    heartbeat: datetime | None
    job: dict[str, Any] | None
    processed: int
    failed: int
    ours: bool

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def state(self) -> str:
        return "busy" if self.busy else "idle"


def server_time(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1_000_000


class Workers:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def register(self, worker_id: str) -> None:
        now = server_time(self.redis)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(self.keys.workers, worker_id)
        pipe.set(self.keys.worker_started(worker_id), timefmt.started())
        self._heartbeat(pipe, worker_id, now)
        pipe.execute()

    def heartbeat(self, worker_id: str) -> float:
        """Record a heartbeat taken from Redis's clock; returns that time (epoch s)."""
        now = server_time(self.redis)
        pipe = self.redis.pipeline(transaction=False)
        self._heartbeat(pipe, worker_id, now)
        pipe.execute()
        return now

    def _heartbeat(self, pipe: Any, worker_id: str, now: float) -> None:
        pipe.hset(self.keys.heartbeats, worker_id, timefmt.heartbeat(now))
        pipe.hset(self.keys.our_heartbeats, worker_id, repr(now))

    def cleanup_commands(self, pipe: Any, worker_id: str) -> None:
        """Queue Resque's full unregister cleanup on ``pipe`` (no job handling)."""
        pipe.srem(self.keys.workers, worker_id)
        pipe.delete(
            self.keys.worker(worker_id),
            self.keys.worker_started(worker_id),
            self.keys.stat("processed", worker_id),
            self.keys.stat("failed", worker_id),
        )
        pipe.hdel(self.keys.heartbeats, worker_id)
        pipe.hdel(self.keys.our_heartbeats, worker_id)

    def unregister(self, worker_id: str) -> None:
        """Remove every trace of the worker. Jobs still in its in-flight list are put
        back at the front of their queues first, so nothing is lost."""
        from resque_proto.recovery import recover_worker

        recover_worker(self.redis, self.keys, worker_id, requeue_limit=None)

    def ids(self) -> list[str]:
        return sorted(texts(self.redis.smembers(self.keys.workers)))

    def all(self) -> list[WorkerInfo]:
        ids = self.ids()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.heartbeats)
        pipe.hgetall(self.keys.our_heartbeats)
        for worker_id in ids:
            pipe.get(self.keys.worker(worker_id))
            pipe.get(self.keys.worker_started(worker_id))
            pipe.get(self.keys.stat("processed", worker_id))
            pipe.get(self.keys.stat("failed", worker_id))
        results = pipe.execute()
        heartbeats = {text(k): text(v) for k, v in results[0].items()}
        ours = {text(k) for k in results[1]}
        infos = []
        for n, worker_id in enumerate(ids):
            job, started, processed, failed = results[2 + 4 * n : 6 + 4 * n]
            infos.append(self._info(worker_id, heartbeats.get(worker_id), worker_id in ours,
                                    job, started, processed, failed))  # fmt: skip
        return infos

    def get(self, worker_id: str) -> WorkerInfo | None:
        return next((w for w in self.all() if w.id == worker_id), None)

    @staticmethod
    def _info(
        worker_id: str,
        heartbeat: str | None,
        ours: bool,
        job: bytes | None,
        started: bytes | None,
        processed: bytes | None,
        failed: bytes | None,
    ) -> WorkerInfo:
        host, pid, queues = parse_worker_id(worker_id)
        job_body: dict[str, Any] | None = None
        if job:
            try:
                decoded = decode_json(job)
                job_body = decoded if isinstance(decoded, dict) else {"raw": text(job)}
            except ValueError:
                job_body = {"raw": text(job)}
        beat: datetime | None = None
        if heartbeat:
            try:
                beat = timefmt.parse_heartbeat(heartbeat)
            except ValueError:
                beat = None
        return WorkerInfo(
            id=worker_id,
            host=host,
            pid=pid,
            queues=queues,
            started=text(started),
            heartbeat=beat,
            job=job_body,
            processed=int(processed or 0),
            failed=int(failed or 0),
            ours=ours,
        )
