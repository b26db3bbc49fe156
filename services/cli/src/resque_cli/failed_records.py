"""Choosing failure records (by id or by filter) and acting on them one by one.

A record's id is ``records.failure_id``: a hash of its exact bytes, the same id
the dashboard shows. resque_proto's ``retry_all`` takes no filter and retries
records already retried, so ``--all`` is built here from ``retry``/``remove`` of
single records, each addressed by its bytes and checked atomically in Redis.
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


def matching(resque: Resque, selection: FailureFilter) -> list[Failure]:
    """Every record ``selection`` matches, in list order (oldest first)."""
    return [failure for failure in resque.failures.all() if selection.matches(failure)]


def find(resque: Resque, wanted_id: str) -> Failure | None:
    wanted = wanted_id.strip().lower()
    return next((f for f in resque.failures.all() if failure_id(f.raw) == wanted), None)


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


def retry_each(resque: Resque, failures: list[Failure], skip_retried: bool) -> BulkOutcome:
    """Push each record's job back on its queue; the record stays, with ``retried_at``.

    ``gone`` counts records removed or changed by someone else meanwhile.
    """
    outcome = BulkOutcome(matched=len(failures))
    for failure in failures:
        if skip_retried and failure.retried_at is not None:
            outcome.already_retried += 1
        elif not retryable(failure):
            outcome.unretryable += 1
        else:
            try:
                resque.failures.retry(failure.index, failure.raw)
            except FailureMoved:
                outcome.gone += 1
            else:
                outcome.done += 1
    return outcome


def remove_each(resque: Resque, failures: list[Failure]) -> BulkOutcome:
    outcome = BulkOutcome(matched=len(failures))
    for failure in failures:
        try:
            resque.failures.remove(failure.raw)
        except FailureMoved:
            outcome.gone += 1
        else:
            outcome.done += 1
    return outcome


def remove_all(resque: Resque) -> BulkOutcome:
    """Every record, in one command."""
    removed = resque.failures.clear()
    return BulkOutcome(matched=removed, done=removed)
