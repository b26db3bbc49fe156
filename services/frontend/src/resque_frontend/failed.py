"""A failure list as pages, newest or oldest first; filters; finding one record by id.

The list is ``failed``, or one of the ``<queue>_failed`` lists of Ruby's
redis_multi_queue backend (``FailureList``). A record is addressed by its list, its
index *and* its id (``failure_id``: a hash of its exact bytes; see ``addressing``),
so a list that changed meanwhile can never make an action hit another record; a
retried record has new bytes, so a new id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from resque_frontend.addressing import locate
from resque_frontend.presenters import JobView, job_view, parse_time
from resque_proto import Resque
from resque_proto.failures import PLAIN_LIST, Failures, job_queue_name
from resque_proto.payload import decode_json
from resque_proto.records import Failure, failure_id
from resque_proto.text import texts

SCAN_CHUNK = 1000
SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class FailureList:
    """The failure list a page or an action is about, checked to be one (``failed``
    or a member of ``failed_queues``), so a URL can never name another key."""

    failures: Failures

    @property
    def name(self) -> str:
        return self.failures.name

    @property
    def queue(self) -> str | None:
        """The job queue of a multi-queue list; None for ``failed`` (any queue)."""
        return None if self.name == PLAIN_LIST else job_queue_name(self.name)

    def params(self) -> dict[str, str]:
        """``list`` as a query or form parameter; none for ``failed`` (plain URLs)."""
        return {} if self.name == PLAIN_LIST else {"list": self.name}


@dataclass(frozen=True)
class FailureQueueRow:
    """One ``<queue>_failed`` list of Ruby's multi-queue backend, for the failed page."""

    name: str
    queue: str
    size: int


def failure_queue_rows(resque: Resque) -> list[FailureQueueRow]:
    sizes = resque.failures.failure_queues()
    return [FailureQueueRow(name, job_queue_name(name), size) for name, size in sizes.items()]


def failure_list(resque: Resque, name: str) -> FailureList | None:
    """The list ``name`` (empty: ``failed``), or None when it is no failure list."""
    name = name or PLAIN_LIST
    return FailureList(resque.failures.in_list(name)) if resque.failures.is_list(name) else None


@dataclass(frozen=True)
class FailureView:
    failure: Failure
    id: str
    job: JobView
    failed_at: datetime | None
    retried_at: datetime | None
    attempts: int | None = None  # how many attempts ran, for jobs with a retry policy

    @property
    def index(self) -> int:
        return self.failure.index

    @property
    def attempts_text(self) -> str | None:
        """``after 3 attempts`` when the record says how many ran."""
        if self.attempts is None:
            return None
        return f"after {self.attempts} attempt" + ("" if self.attempts == 1 else "s")

    @property
    def job_id(self) -> str | None:
        """Our producers' ``id`` of the failed job (Ruby's payloads have none)."""
        value = self.job.extras.get("id")
        return value if isinstance(value, str) and value else None


def attempts_of(raw: str) -> int | None:
    """The record's ``attempts`` member (ours, after Resque's; docs/protocol.md section 9)."""
    if '"attempts"' not in raw:  # most records: no second decode
        return None
    try:
        body = decode_json(raw)
    except ValueError:
        return None
    value = body.get("attempts") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def view(index: int, raw: str) -> FailureView:
    failure = Failure.decode(index, raw)
    return FailureView(
        failure=failure,
        id=failure_id(raw),
        job=job_view(failure.payload),
        failed_at=parse_time(failure.failed_at, "failed_at"),
        retried_at=parse_time(failure.retried_at, "failed_at"),
        attempts=attempts_of(raw),
    )


@dataclass(frozen=True)
class FailureFilter:
    """Exact queue; case-insensitive substring of the job class and of the exception."""

    queue: str = ""
    class_name: str = ""
    exception: str = ""

    @property
    def active(self) -> bool:
        return bool(self.queue or self.class_name or self.exception)

    def params(self) -> dict[str, str]:
        """The non-empty filter fields as query parameters."""
        fields = {"queue": self.queue, "class": self.class_name, "exception": self.exception}
        return {name: value for name, value in fields.items() if value}

    def might_match(self, raw: str) -> bool:
        """A cheap test on the raw bytes, before decoding: False only when the record
        cannot match (every wanted value must appear verbatim, ignoring case)."""
        lowered = raw.lower()
        return all(
            value.lower() in lowered
            for value in (self.queue, self.class_name, self.exception)
            if value and _verbatim_in_json(value)
        )

    def describe(self) -> str:
        """The filter in words, for a question about the records it selects."""
        parts = [f"queue {self.queue}"] if self.queue else []
        if self.class_name:
            parts.append(f"class containing {self.class_name}")
        if self.exception:
            parts.append(f"exception containing {self.exception}")
        return ", ".join(parts)

    @property
    def retry_all_question(self) -> str:
        """What "Retry all" asks, on the page (JavaScript) and on the server's page."""
        which = f"matching {self.describe()} " if self.active else ""
        return (f"Put every failed job {which}back on its queue? Records already retried "
                "are skipped.")  # fmt: skip

    def matches(self, item: FailureView) -> bool:
        return self._matches(item.failure, item.job)

    def selects(self, failure: Failure) -> bool:
        """``matches`` for a bare record (``Failures.retry_matching``'s ``where``):
        the raw test first, then only the job view, not a whole FailureView."""
        return self.might_match(failure.raw) and self._matches(failure, job_view(failure.payload))

    def _matches(self, failure: Failure, job: JobView) -> bool:
        if self.queue and failure.queue != self.queue:
            return False
        classes = f"{job.class_name} {job.wrapper or ''}".lower()
        if self.class_name and self.class_name.lower() not in classes:
            return False
        exception = (failure.exception or "").lower()
        return not (self.exception and self.exception.lower() not in exception)


def _verbatim_in_json(value: str) -> bool:
    """True when any JSON encoder writes ``value`` unchanged: printable ASCII without
    quote or backslash (others may be escaped, so the raw test would be unsound)."""
    return all(" " <= c <= "~" and c not in '"\\' for c in value)


@dataclass(frozen=True)
class FailedPage:
    items: list[FailureView]
    total: int
    older_before: int | None  # newest first, filtered: where the next scan starts
    scanned: int = 0
    newer_after: int | None = None  # oldest first, filtered: where the next scan starts


def newest_page(failures: Failures, page: int, per_page: int) -> FailedPage:
    """Page ``page`` (0 = newest) in one round trip, using negative list indexes."""
    pipe = failures.redis.pipeline(transaction=False)
    pipe.llen(failures.key)
    pipe.lrange(failures.key, -(page + 1) * per_page, -page * per_page - 1)
    total, raw = pipe.execute()
    total = int(total)
    records = texts(raw)
    last = total - 1 - page * per_page
    first = last - len(records) + 1
    items = [view(first + i, item) for i, item in enumerate(records)]
    items.reverse()
    older = first if first > 0 and items else None
    return FailedPage(items, total, older)


def oldest_page(failures: Failures, page: int, per_page: int) -> FailedPage:
    """Page ``page`` (0 = oldest), in list order as Resque's failed page shows it."""
    pipe = failures.redis.pipeline(transaction=False)
    pipe.llen(failures.key)
    pipe.lrange(failures.key, page * per_page, (page + 1) * per_page - 1)
    total, raw = pipe.execute()
    items = [view(page * per_page + i, item) for i, item in enumerate(texts(raw))]
    return FailedPage(items, int(total), None)


def filtered_page(
    failures: Failures, wanted: FailureFilter, before: int | None, per_page: int
) -> FailedPage:
    """Matching records older than index ``before`` (None = from the newest), newest
    first. Scans at most ``SCAN_LIMIT`` records, so a page costs a bounded number of
    round trips; ``older_before`` says where to continue."""
    total = failures.count()
    upper = total if before is None else min(before, total)
    found: list[FailureView] = []
    scanned = 0
    while upper > 0 and scanned < SCAN_LIMIT:
        lower = max(0, upper - SCAN_CHUNK)
        chunk = texts(failures.redis.lrange(failures.key, lower, upper - 1))
        for offset in range(len(chunk) - 1, -1, -1):
            index = lower + offset
            scanned += 1
            if _selected(wanted, index, chunk[offset], found) and len(found) == per_page:
                return FailedPage(found, total, index if index > 0 else None, scanned)
        upper = lower
    return FailedPage(found, total, upper if upper > 0 else None, scanned)


def filtered_oldest_page(
    failures: Failures, wanted: FailureFilter, after: int, per_page: int
) -> FailedPage:
    """``filtered_page`` in list order: matching records from index ``after`` on, oldest
    first; ``newer_after`` says where to continue."""
    total = failures.count()
    lower, scanned = after, 0
    found: list[FailureView] = []
    while lower < total and scanned < SCAN_LIMIT:
        chunk = texts(failures.redis.lrange(failures.key, lower, lower + SCAN_CHUNK - 1))
        if not chunk:
            break
        for offset, raw in enumerate(chunk):
            scanned += 1
            if _selected(wanted, lower + offset, raw, found) and len(found) == per_page:
                after = lower + offset + 1
                return FailedPage(found, total, None, scanned, after if after < total else None)
        lower += len(chunk)
    return FailedPage(found, total, None, scanned, lower if lower < total else None)


def _selected(wanted: FailureFilter, index: int, raw: str, found: list[FailureView]) -> bool:
    """Append the record's view to ``found`` when ``wanted`` matches it."""
    if not wanted.might_match(raw):
        return False
    item = view(index, raw)
    if wanted.matches(item):
        found.append(item)
        return True
    return False


def find(failures: Failures, index: int, record_id: str) -> FailureView | None:
    """The record with this id nearest to ``index``, or None when it is gone or has changed."""
    found = locate(failures.redis, failures.key, index, record_id)
    return None if found is None else view(*found)
