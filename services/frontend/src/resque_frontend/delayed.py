"""Delayed jobs (resque-scheduler's layout) as pages: timestamps oldest first, the
jobs due at one timestamp, and finding one of those jobs again by its bytes.

A page reads only its own timestamps or jobs, so it costs the same with 100,000
timestamps as with ten. The one exception is the total number of jobs, a server-side
pass over every timestamp (``Delayed.count``): it is only counted while there are at
most ``EXACT_COUNT_LIMIT`` timestamps, so a page never blocks Redis for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resque_frontend.addressing import entry_id, locate
from resque_frontend.presenters import JobView, job_view
from resque_frontend.refusals import delayed_count
from resque_proto import Resque
from resque_proto.queues import QueuedJob
from resque_proto.retry import ATTEMPT_KEY, RETRY_KEY
from resque_proto.text import text, texts

EXACT_COUNT_LIMIT = 10_000  # ~15 ms of Lua on Redis; 100,000 timestamps take ~150 ms


@dataclass(frozen=True)
class DelayedJob:
    """One delayed payload: its exact bytes, the id addressing them, and what it runs."""

    index: int
    raw: str
    id: str
    view: JobView | None  # None when the payload is not a readable job
    error: str | None = None

    @property
    def queue(self) -> str | None:
        queue = self.view.extras.get("queue") if self.view else None
        return queue if isinstance(queue, str) else None

    @property
    def job_id(self) -> str | None:
        """Our producers' ``id`` member (Ruby's payloads have none)."""
        value = self.view.extras.get("id") if self.view else None
        return value if isinstance(value, str) else None

    @property
    def attempt(self) -> int | None:
        """Which attempt this run will be, for a retried job (``attempt``, section 9)."""
        value = self.view.extras.get(ATTEMPT_KEY) if self.view else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return None
        return value

    @property
    def attempts_allowed(self) -> int | None:
        """1 + ``retry.limit`` when the payload carries its own retry policy; else unknown
        here (the class's or the worker's policy decides)."""
        policy = self.view.extras.get(RETRY_KEY) if self.view else None
        limit = policy.get("limit") if isinstance(policy, dict) else None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            return None
        return 1 + limit

    @property
    def retry_label(self) -> str | None:
        """``retry: attempt 2 of 4`` (or ``retry: attempt 2``) for a retried job."""
        if self.attempt is None:
            return None
        allowed = self.attempts_allowed
        return f"retry: attempt {self.attempt}" + (f" of {allowed}" if allowed else "")

    @property
    def metadata(self) -> dict[str, Any]:
        """What the payload carries besides class, args, queue, id and attempt."""
        extras = self.view.extras if self.view else {}
        return {k: v for k, v in extras.items() if k not in {"queue", "id", ATTEMPT_KEY}}


def delayed_job(index: int, raw: str) -> DelayedJob:
    decoded = QueuedJob.decode(index, raw)
    if decoded.error is not None:
        return DelayedJob(index, raw, entry_id(raw), None, decoded.error)
    view = job_view({"class": decoded.class_name, "args": decoded.args, **decoded.extras})
    return DelayedJob(index, raw, entry_id(raw), view)


@dataclass(frozen=True)
class TimestampRow:
    timestamp: int
    size: int
    first: DelayedJob | None  # None when the jobs were moved between two reads


@dataclass(frozen=True)
class TimestampsPage:
    rows: list[TimestampRow]
    timestamps: int
    jobs: int | None  # None when there are too many timestamps to count every job


def timestamps_page(resque: Resque, page: int, per_page: int) -> TimestampsPage:
    """One page of timestamps, oldest first, each with its size and first job."""
    delayed = resque.delayed
    stamps = delayed.timestamp_count()
    jobs = delayed_count(resque) if stamps <= EXACT_COUNT_LIMIT else None
    sizes = delayed.timestamps(page * per_page, per_page)
    pipe = resque.redis.pipeline(transaction=False)
    for timestamp, _ in sizes:
        pipe.lindex(resque.keys.delayed(timestamp), 0)
    heads = [text(raw) for raw in pipe.execute()]
    rows = [
        TimestampRow(timestamp, size, None if head is None else delayed_job(0, head))
        for (timestamp, size), head in zip(sizes, heads, strict=True)
    ]
    return TimestampsPage(rows, stamps, jobs)


def jobs_page(
    resque: Resque, timestamp: int, start: int, count: int
) -> tuple[int, list[DelayedJob]]:
    """How many jobs are due at ``timestamp``, and ``count`` of them from ``start``."""
    pipe = resque.redis.pipeline(transaction=False)
    pipe.llen(resque.keys.delayed(timestamp))
    pipe.lrange(resque.keys.delayed(timestamp), start, start + count - 1)
    size, raw = pipe.execute()
    return int(size), [delayed_job(start + i, item) for i, item in enumerate(texts(raw))]


def find(resque: Resque, timestamp: int, index: int, job_id: str) -> DelayedJob | None:
    """The job with this id due at ``timestamp`` nearest to ``index``, or None."""
    found = locate(resque.redis, resque.keys.delayed(timestamp), index, job_id)
    return None if found is None else delayed_job(*found)
