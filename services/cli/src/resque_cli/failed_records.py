"""Choosing failure records (by id or by filter) and acting on them one by one.

Records live in the ``failed`` list and, when a Ruby fleet uses Resque's
redis_multi_queue backend, in one ``<queue>_failed`` list per queue: every
command reads them all (``ListedFailure`` says which list a record is in).
A record's id is ``records.failure_id``: a hash of its exact bytes, the same id
the dashboard shows. ``--all`` is built here from ``retry``/``remove`` of single
records, each addressed by its list and bytes and checked atomically in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

from resque_proto import Resque
from resque_proto.errors import FailureMoved
from resque_proto.payload import validate_class, validate_queue
from resque_proto.records import Failure, failure_id


@dataclass(frozen=True)
class FailureFilter:
    """Exact queue and exact job class; ``None`` matches anything."""

    queue: str | None = None
    class_name: str | None = None

    def __post_init__(self) -> None:
        if self.queue is not None:
            validate_queue(self.queue)
        if self.class_name is not None:
            validate_class(self.class_name)

    @property
    def active(self) -> bool:
        return self.queue is not None or self.class_name is not None

    def matches(self, failure: Failure) -> bool:
        return (self.queue is None or failure.queue == self.queue) and (
            self.class_name is None or failure.class_name == self.class_name
        )


@dataclass(frozen=True)
class ListedFailure:
    """A record and the failure list holding it (``failed`` or ``<queue>_failed``)."""

    list_name: str
    failure: Failure


def every_record(resque: Resque) -> list[ListedFailure]:
    """Every record: the ``failed`` list, then each multi-queue list by name, each in
    list order (oldest first)."""
    return [
        ListedFailure(name, failure)
        for name in resque.failures.list_names()
        for failure in resque.failures.in_list(name).all()
    ]


def total(resque: Resque) -> int:
    """Records in every failure list."""
    return resque.failures.count() + sum(resque.failures.failure_queues().values())


def matching(resque: Resque, selection: FailureFilter) -> list[ListedFailure]:
    """Every record ``selection`` matches, in ``every_record`` order."""
    return [item for item in every_record(resque) if selection.matches(item.failure)]


def find(resque: Resque, wanted_id: str) -> ListedFailure | None:
    wanted = wanted_id.strip().lower()
    return next((i for i in every_record(resque) if failure_id(i.failure.raw) == wanted), None)


@dataclass
class BulkOutcome:
    """What one retry or remove over a set of records did, record by record."""

    matched: int = 0
    done: int = 0
    already_retried: int = 0
    unretryable: int = 0
    gone: int = 0


def retryable(failure: Failure) -> bool:
    """Whether the record says where to push which job (``Failures.retry``'s condition)."""
    return isinstance(failure.queue, str) and isinstance(failure.payload, dict)


def retry_each(resque: Resque, chosen: list[ListedFailure], skip_retried: bool) -> BulkOutcome:
    """Push each record's job back on its queue; the record stays, with ``retried_at``.

    ``gone`` counts records removed or changed by someone else meanwhile.
    """
    outcome = BulkOutcome(matched=len(chosen))
    for item in chosen:
        failure = item.failure
        if skip_retried and failure.retried_at is not None:
            outcome.already_retried += 1
        elif not retryable(failure):
            outcome.unretryable += 1
        else:
            try:
                resque.failures.in_list(item.list_name).retry(failure.index, failure.raw)
            except FailureMoved:
                outcome.gone += 1
            else:
                outcome.done += 1
    return outcome


def remove_each(resque: Resque, chosen: list[ListedFailure]) -> BulkOutcome:
    outcome = BulkOutcome(matched=len(chosen))
    for item in chosen:
        try:
            resque.failures.in_list(item.list_name).remove(item.failure.raw)
        except FailureMoved:
            outcome.gone += 1
        else:
            outcome.done += 1
    return outcome


def remove_all(resque: Resque) -> BulkOutcome:
    """Every record of every failure list, one ``DEL`` per list."""
    removed = sum(resque.failures.in_list(name).clear() for name in resque.failures.list_names())
    return BulkOutcome(matched=removed, done=removed)
