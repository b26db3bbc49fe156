"""Pipelined reads behind the pages: a constant number of round trips per page,
whatever the number of jobs or failures (cost grows only with queues and workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from resque_frontend import refusals
from resque_frontend.config import Settings
from resque_frontend.presenters import JobView, job_view, parse_time, seconds_between
from resque_proto import Resque, WorkerInfo
from resque_proto.histogram import INF, cumulative
from resque_proto.queues import QueuedJob, enqueued_at
from resque_proto.stats import pause_flag_set
from resque_proto.text import texts


@dataclass(frozen=True)
class Totals:
    """Resque.info's numbers plus the clock of Redis, read in one round trip.

    ``now`` is Redis's clock, the one our workers' heartbeats are taken from. If the
    user may not run ``TIME`` (``+@read``), this host's clock stands in: the pages
    only show ages with it (heartbeat age, latency, running for), nothing is decided
    on it, and with NTP-synced hosts the two differ by milliseconds."""

    queue_names: list[str]
    worker_count: int
    processed: int
    failed: int
    failed_records: int
    paused: bool
    now: float


@dataclass(frozen=True)
class QueueRow:
    name: str
    size: int
    latency: float | None
    p50: float | None = None  # job run time quantiles from the workers' histogram
    p95: float | None = None
    jobs_timed: int = 0
    paused: bool = False  # resque-pause's pause:queue:<q> key is set


def quantile(q: float, buckets: list[tuple[str, int]]) -> float | None:
    """Prometheus's ``histogram_quantile``: linear within the bucket holding rank q."""
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return None
    rank, lower, below = q * total, 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if le == INF:
                return lower
            upper = float(le)
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = float(le), count
    return lower


@dataclass(frozen=True)
class WorkerView:
    info: WorkerInfo
    job: JobView | None
    job_queue: str | None
    run_at: datetime | None
    running_for: float | None
    started: datetime | None
    heartbeat_age: float | None
    stale: bool

    @property
    def state(self) -> str:
        return self.info.state


def totals(resque: Resque) -> Totals:
    keys = resque.keys
    pipe = resque.redis.pipeline(transaction=False)
    pipe.smembers(keys.queues)
    pipe.scard(keys.workers)
    pipe.get(keys.stat("processed"))
    pipe.get(keys.stat("failed"))
    pipe.llen(keys.failed)
    pipe.get(keys.pause_all)
    pipe.time()
    *replies, clock = pipe.execute(raise_on_error=False)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    queues, workers, processed, failed, records, paused = replies
    return Totals(
        queue_names=sorted(texts(queues)),
        worker_count=int(workers),
        processed=int(processed or 0),
        failed=int(failed or 0),
        failed_records=int(records),
        paused=pause_flag_set(paused),
        now=redis_clock(clock),
    )


def redis_clock(reply: Any) -> float:
    """``TIME``'s reply as epoch seconds; this host's clock when it was refused."""
    if isinstance(reply, redis.exceptions.NoPermissionError):
        refusals.refused("TIME", reply)
        return time.time()
    if isinstance(reply, Exception):
        raise reply
    seconds, micros = reply
    return float(seconds) + float(micros) / 1e6


def queue_rows(resque: Resque, names: list[str], now: float) -> list[QueueRow]:
    """Size, latency (age of the head job, when it carries ``enqueued_at``), run-time
    quantiles (from the duration histogram our workers keep) and paused state, in one
    pipeline."""
    pipe = resque.redis.pipeline(transaction=False)
    for name in names:
        pipe.llen(resque.keys.queue(name))
        pipe.lindex(resque.keys.queue(name), 0)
        pipe.hgetall(resque.keys.durations(name))
        pipe.exists(resque.keys.paused_queue(name))
    results = pipe.execute()
    rows = []
    for n, name in enumerate(names):
        size, head, durations, paused = results[4 * n : 4 * n + 4]
        enqueued = enqueued_at(head)
        latency = None if enqueued is None else max(0.0, now - enqueued)
        buckets, _, timed = cumulative(durations)
        rows.append(QueueRow(name, int(size), latency, quantile(0.5, buckets),
                             quantile(0.95, buckets), timed, bool(paused)))  # fmt: skip
    return rows


@dataclass(frozen=True)
class QueuePage:
    size: int
    jobs: list[QueuedJob]
    paused: bool


def queue_page(resque: Resque, name: str, start: int, count: int) -> QueuePage:
    """The queue's size, ``count`` jobs from ``start`` and its paused state: one round trip."""
    pipe = resque.redis.pipeline(transaction=False)
    pipe.llen(resque.keys.queue(name))
    pipe.lrange(resque.keys.queue(name), start, start + count - 1)
    pipe.exists(resque.keys.paused_queue(name))
    size, raw, paused = pipe.execute()
    jobs = [QueuedJob.decode(start + i, item) for i, item in enumerate(texts(raw))]
    return QueuePage(int(size), jobs, bool(paused))


def worker_view(info: WorkerInfo, settings: Settings, now: float) -> WorkerView:
    job: dict[str, Any] | None = info.job
    run_at = parse_time(job.get("run_at"), "run_at") if job else None
    age = seconds_between(info.heartbeat, now)
    limit = settings.ours_stale_after if info.ours else settings.ruby_stale_after
    return WorkerView(
        info=info,
        job=job_view(job.get("payload")) if job else None,
        job_queue=job.get("queue") if job and isinstance(job.get("queue"), str) else None,
        run_at=run_at,
        running_for=seconds_between(run_at, now),
        started=parse_time(info.started, "started"),
        heartbeat_age=age,
        stale=age is not None and age > limit,
    )


def workers(resque: Resque, settings: Settings, now: float) -> list[WorkerView]:
    return [worker_view(info, settings, now) for info in resque.workers.all()]


def by_host(views: list[WorkerView]) -> dict[str, list[WorkerView]]:
    hosts: dict[str, list[WorkerView]] = {}
    for view in sorted(views, key=lambda v: (v.info.host, v.info.pid or 0, v.info.id)):
        hosts.setdefault(view.info.host, []).append(view)
    return hosts
