"""``/metrics``: Prometheus families computed from Redis at scrape time.

A custom collector (no process-global gauges), so every gunicorn worker and
every replica reports the same numbers. Three round trips per scrape besides the
throughput-history write and the refused-commands check (refusals.py), whatever
the number of jobs or failures: one pipeline for the registries, counters (the
retries hash included) and the scheduler's keys, one
per-queue (size, head job, durations, paused), per-worker and per-failure-list pipeline, and
``Delayed.count`` (one Lua pass over the delayed timestamps, the only read that grows
with them). Redis down gives ``resque_up 0`` and nothing else but
``resque_build_info``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from resque_frontend import history, refusals
from resque_proto import Resque
from resque_proto.failures import FAILED_QUEUES, job_queue_name, list_key
from resque_proto.histogram import cumulative
from resque_proto.queues import enqueued_at
from resque_proto.text import text, texts
from resque_proto.version import build_labels


@dataclass
class QueueSample:
    size: int
    oldest_enqueued_at: float | None
    buckets: list[tuple[str, int]]
    duration_sum: float
    duration_count: int
    paused: bool = False
    head_present: bool = False  # LINDEX 0 returned a job (the queue was not empty)

    def latency(self, now: float) -> float | None:
        """Age of the head job; 0 when the queue is empty; None (unknown) when the head
        job carries no ``enqueued_at`` (Ruby's payloads): no sample then, since a 0
        would hide a backlog from an alert on this gauge."""
        if not self.size or not self.head_present:
            return 0.0
        if self.oldest_enqueued_at is None:
            return None
        return max(0.0, now - self.oldest_enqueued_at)


@dataclass
class SchedulerSample:
    """The delayed jobs and the recurring scheduler (resque-scheduler's keys)."""

    delayed_jobs: int | None  # None: the Redis user may not run the counting script
    delayed_timestamps: int
    soonest_due: int | None  # the oldest delayed timestamp
    leader: str | None  # the scheduler lock's holder
    lag_buckets: list[tuple[str, int]]
    lag_sum: float


@dataclass
class Sample:
    """Everything one scrape reports, read from Redis."""

    processed: int
    failed: int
    failed_records: int
    scheduler: SchedulerSample
    workers: dict[str, int] = field(default_factory=dict)
    queues: dict[str, QueueSample] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)  # queue -> attempts retried
    # job queue -> records in its <queue>_failed list (Ruby's redis_multi_queue backend)
    failure_queues: dict[str, int] = field(default_factory=dict)


def read_sample(resque: Resque) -> Sample:
    keys = resque.keys
    first = resque.redis.pipeline(transaction=False)
    first.smembers(keys.queues)
    first.smembers(keys.workers)
    first.get(keys.stat("processed"))
    first.get(keys.stat("failed"))
    first.llen(keys.failed)
    first.zcard(keys.delayed_schedule)
    first.zrange(keys.delayed_schedule, 0, 0)
    first.get(keys.scheduler_lock)  # resque_proto.leader.leader(), pipelined
    first.hgetall(keys.schedule_lag)
    first.hgetall(keys.retries)
    first.smembers(list_key(keys, FAILED_QUEUES))
    (queue_set, worker_set, processed, failed, failed_records,
     timestamps, soonest, lock, lag, retries, failure_lists) = first.execute()  # fmt: skip
    queues, workers = sorted(texts(queue_set)), sorted(texts(worker_set))
    lists = sorted(texts(failure_lists))

    second = resque.redis.pipeline(transaction=False)
    for name in queues:
        second.llen(keys.queue(name))
        second.lindex(keys.queue(name), 0)
        second.hgetall(keys.durations(name))
        second.exists(keys.paused_queue(name))
    for worker_id in workers:
        second.exists(keys.worker(worker_id))
    for name in lists:
        second.llen(list_key(keys, name))
    results = second.execute()
    list_sizes = results[len(results) - len(lists) :]

    sample = Sample(int(processed or 0), int(failed or 0), int(failed_records),
                    scheduler_sample(resque, timestamps, soonest, lock, lag))  # fmt: skip
    for n, name in enumerate(queues):
        size, head, durations, paused = results[4 * n : 4 * n + 4]
        buckets, total, count = cumulative(durations)
        sample.queues[name] = QueueSample(int(size), enqueued_at(head), buckets, total, count,
                                          bool(paused), head is not None)  # fmt: skip
    sample.retries = retry_counts(retries)
    sample.failure_queues = {job_queue_name(name): int(size)
                             for name, size in zip(lists, list_sizes, strict=True)}  # fmt: skip
    busy = sum(1 for flag in results[4 * len(queues) : len(results) - len(lists)] if int(flag))
    sample.workers = {"busy": busy, "idle": len(workers) - busy}
    return sample


def retry_counts(stored: Mapping[bytes | str, bytes | str]) -> dict[str, int]:
    """The retries hash, queue -> count; a value that is no integer counts 0."""
    counts = {}
    for queue, value in stored.items():
        raw = text(value) or ""
        counts[text(queue) or ""] = int(raw) if raw.lstrip("-").isdigit() else 0
    return counts


def scheduler_sample(
    resque: Resque,
    timestamps: int,
    soonest: list[bytes],
    lock: bytes | None,
    lag: Mapping[bytes | str, bytes | str],
) -> SchedulerSample:
    """From the first pipeline's replies; counting the delayed jobs is one more round
    trip, skipped when there is no timestamp."""
    lag_buckets, lag_sum, _ = cumulative(lag)
    return SchedulerSample(
        delayed_jobs=refusals.delayed_count(resque) if timestamps else 0,
        delayed_timestamps=int(timestamps),
        soonest_due=int(soonest[0]) if soonest else None,
        leader=text(lock),
        lag_buckets=lag_buckets,
        lag_sum=lag_sum,
    )


def families(sample: Sample, now: float) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("resque_queue_jobs", "Jobs waiting in the queue.", labels=["queue"])
    latency = GaugeMetricFamily(
        "resque_queue_latency_seconds",
        "Age of the oldest waiting job (0 when empty; no sample when its enqueue time is "
        "unknown, as for jobs enqueued by Ruby).",
        labels=["queue"],
    )
    durations = HistogramMetricFamily(
        "resque_job_duration_seconds", "Job run time, recorded by workers.", labels=["queue"]
    )
    paused = GaugeMetricFamily(
        "resque_queue_paused",
        "1 while the queue is paused (resque-pause's pause:queue key): no worker takes its "
        "jobs; else 0.",
        labels=["queue"],
    )
    retries = CounterMetricFamily(
        "resque_job_retries",
        "Failed attempts rescheduled for a retry (pyresque:retries).",
        labels=["queue"],
    )
    for name in sorted(set(sample.queues) | set(sample.retries)):
        retries.add_metric([name], sample.retries.get(name, 0))
    for name, queue in sample.queues.items():
        jobs.add_metric([name], queue.size)
        paused.add_metric([name], 1 if queue.paused else 0)
        age = queue.latency(now)
        if age is not None:
            latency.add_metric([name], age)
        if queue.duration_count:  # a queue no worker has timed yet has no histogram
            durations.add_metric([name], queue.buckets, queue.duration_sum)
    workers = GaugeMetricFamily("resque_workers", "Registered workers by state.", labels=["state"])
    for state in ("idle", "busy"):
        workers.add_metric([state], sample.workers.get(state, 0))
    yield jobs
    yield latency
    yield paused
    yield workers
    yield CounterMetricFamily(
        "resque_jobs_processed", "Jobs processed (stat:processed).", value=sample.processed
    )
    yield CounterMetricFamily(
        "resque_jobs_failed", "Jobs failed (stat:failed).", value=sample.failed
    )
    yield retries
    yield GaugeMetricFamily(
        "resque_failed_jobs",
        "Failure records: the failed list plus every <queue>_failed list.",
        value=sample.failed_records + sum(sample.failure_queues.values()),
    )
    by_queue = GaugeMetricFamily(
        "resque_failed_queue_jobs",
        "Failure records in the <queue>_failed list of Ruby's redis_multi_queue backend.",
        labels=["queue"],
    )
    for name, size in sorted(sample.failure_queues.items()):
        by_queue.add_metric([name], size)
    yield by_queue
    yield durations
    yield from scheduler_families(sample.scheduler, now)


def scheduler_families(sample: SchedulerSample, now: float) -> Iterator[Metric]:
    if sample.delayed_jobs is not None:
        yield GaugeMetricFamily(
            "resque_delayed_jobs", "Delayed jobs waiting for their time.", value=sample.delayed_jobs
        )
    yield GaugeMetricFamily(
        "resque_delayed_timestamps",
        "Distinct seconds at which delayed jobs are due (delayed_queue_schedule).",
        value=sample.delayed_timestamps,
    )
    overdue = 0.0 if sample.soonest_due is None else max(0.0, now - sample.soonest_due)
    yield GaugeMetricFamily(
        "resque_delayed_oldest_overdue_seconds",
        "How long the oldest due delayed job has waited to be moved onto its queue "
        "(0 when none is due); grows while no scheduler runs.",
        value=overdue,
    )
    yield HistogramMetricFamily(
        "resque_schedule_lag_seconds",
        "Delay between a delayed job's due second and its move onto its queue, "
        "recorded by our scheduler.",
        buckets=sample.lag_buckets,
        sum_value=sample.lag_sum,
    )
    leader = GaugeMetricFamily(
        "resque_scheduler_leader",
        "1 for the scheduler holding the resque-scheduler lock (no sample when none does).",
        labels=["scheduler"],
    )
    if sample.leader is not None:
        leader.add_metric([sample.leader], 1)
    yield leader


def up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily("resque_up", "1 when Redis answered this scrape.", value=value)


class ResqueCollector(Collector):
    def __init__(self, resque: Resque) -> None:
        self.resque = resque

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        try:
            sample = read_sample(self.resque)
            history.record(self.resque, sample.processed, sample.failed, now)
            refused = refusals.refused_now(self.resque.redis)
        except (redis.RedisError, OSError):
            yield up(0)
            return
        yield from families(sample, now)
        yield refusals.family(refused)
        yield up(1)


class BuildInfo(Collector):
    """``resque_build_info`` (always 1), whether Redis answers or not."""

    def collect(self) -> Iterator[Metric]:
        labels = build_labels("frontend")
        info = GaugeMetricFamily(
            "resque_build_info", "Always 1; the labels say what runs.", labels=list(labels)
        )
        info.add_metric(list(labels.values()), 1)
        yield info


def registry_for(resque: Resque) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ResqueCollector(resque))
    registry.register(BuildInfo())
    return registry
