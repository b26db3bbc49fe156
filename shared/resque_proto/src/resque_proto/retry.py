"""Retry policies (resque-retry's conventions), and the payload of a retried attempt.

A policy comes from, in order: the payload's ``retry`` object (given per job over
HTTP), the job class's attributes (``retry_limit``, ``retry_delay``, ``backoff``,
``retry_exceptions``, ``fatal_exceptions``), or the worker's default (environment,
off unless set). ``retry_limit`` counts retries after the first attempt, as in
resque-retry. Exceptions are matched by name against the failed exception's class
and its bases, so ``retry_exceptions = [OSError]`` also retries ``TimeoutError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resque_proto.delayed_payload import encode_delayed_payload
from resque_proto.errors import ValidationError
from resque_proto.payload import Job

if TYPE_CHECKING:  # imported when a delay is drawn: random re-seeds itself after every
    import random  # fork, and the worker's fork server (zygote) imports this module

ATTEMPT_KEY = "attempt"
RETRY_KEY = "retry"
BACKOFFS = ("fixed", "exponential")
MAX_LIMIT = 100
MAX_DELAY = 366 * 86_400.0
JITTER = 0.25  # exponential delays are drawn from [1 - JITTER, 1 + JITTER] of their value


def exception_name(kind: type) -> str:
    """``ValueError`` for builtins, ``package.module.Error`` otherwise."""
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def lineage(kind: type) -> list[str]:
    """The names an exception answers to: its class's and every base's, full and short."""
    names: list[str] = []
    for base in kind.__mro__:
        if base is object:
            continue
        names += [exception_name(base), base.__qualname__]
    return names


@dataclass(frozen=True)
class RetryPolicy:
    limit: int = 0
    delay: float = 0.0
    backoff: str | tuple[float, ...] = "fixed"
    retry_exceptions: tuple[str, ...] = ()
    fatal_exceptions: tuple[str, ...] = ()

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the attempt after ``attempt`` (1-based) failed."""
        if isinstance(self.backoff, tuple):
            return self.backoff[min(attempt, len(self.backoff)) - 1]
        if self.backoff == "exponential":
            import random

            base = self.delay * float(2 ** (attempt - 1))
            return min(MAX_DELAY, base * (rng or random).uniform(1 - JITTER, 1 + JITTER))
        return self.delay

    def retries(self, names: Iterable[str], attempt: int) -> bool:
        """Whether a failure of ``attempt`` with an exception answering to ``names``
        gets another attempt."""
        answers_to = set(names)
        if attempt > self.limit or answers_to & set(self.fatal_exceptions):
            return False
        return not self.retry_exceptions or bool(answers_to & set(self.retry_exceptions))


def attempt_of(job: Job) -> int:
    value = job.extras.get(ATTEMPT_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def retry_payload(job: Job, queue: str, attempt: int) -> str:
    """The delayed payload of the next attempt: same class, args and extras, ``attempt``
    set, ``enqueued_at`` dropped (the move stamps a new one), ``queue`` last."""
    extras = {k: v for k, v in job.extras.items() if k not in ("enqueued_at", "queue")}
    extras[ATTEMPT_KEY] = attempt
    job_id = extras.pop("id", None)
    ordered = ({"id": job_id} if isinstance(job_id, str) else {}) | extras
    return encode_delayed_payload(queue, job.class_name, job.args, None, ordered)


def _names(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, type | str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValidationError(field, "must be a list of exception names")
    names = []
    for item in value:
        if isinstance(item, type) and issubclass(item, BaseException):
            names.append(exception_name(item))
        elif isinstance(item, str) and item:
            names.append(item)
        else:
            raise ValidationError(field, f"{item!r} is not an exception class or name")
    return tuple(names)


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, "must be a number of seconds")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
        raise ValidationError(field, f"must be between 0 and {MAX_DELAY:.0f} seconds")
    return float(value)


def _backoff(value: object, field: str) -> str | tuple[float, ...]:
    if value is None:
        return "fixed"
    if isinstance(value, str):
        if value not in BACKOFFS:
            raise ValidationError(field, "must be fixed, exponential or a list of delays")
        return value
    if isinstance(value, list | tuple) and value:
        return tuple(_seconds(item, field) for item in value)
    raise ValidationError(field, "must be fixed, exponential or a non-empty list of delays")


def policy_from(settings: Mapping[str, Any], prefix: str = "") -> RetryPolicy:
    """A policy from a mapping with ``limit``, ``delay``, ``backoff``, ``retry_exceptions``,
    ``fatal_exceptions``; ``prefix`` names the fields in errors (``retry.limit``)."""
    unknown = set(settings) - {"limit", "delay", "backoff", "retry_exceptions", "fatal_exceptions"}
    if unknown:
        raise ValidationError(f"{prefix}{sorted(unknown)[0]}", "unknown retry setting")
    limit = settings.get("limit", 0)
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)  # 3.0 from a JSON producer that writes every number as a float
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise ValidationError(f"{prefix}limit", f"must be a whole number from 0 to {MAX_LIMIT}")
    backoff = _backoff(settings.get("backoff"), f"{prefix}backoff")
    return RetryPolicy(
        limit=limit,
        delay=_seconds(settings.get("delay", 0), f"{prefix}delay"),
        backoff=backoff,
        retry_exceptions=_names(settings.get("retry_exceptions"), f"{prefix}retry_exceptions"),
        fatal_exceptions=_names(settings.get("fatal_exceptions"), f"{prefix}fatal_exceptions"),
    )


CLASS_ATTRIBUTES = {
    "retry_limit": "limit",
    "retry_delay": "delay",
    "backoff": "backoff",
    "retry_exceptions": "retry_exceptions",
    "fatal_exceptions": "fatal_exceptions",
}


def class_policy(job_class: type) -> RetryPolicy | None:
    """The policy a job class declares, or None if it declares none."""
    settings = {
        name: getattr(job_class, attribute)
        for attribute, name in CLASS_ATTRIBUTES.items()
        if getattr(job_class, attribute, None) is not None
    }
    if not settings:
        return None
    return policy_from(settings, prefix=f"{job_class.__qualname__}.")


def job_policy(job: Job) -> RetryPolicy | None:
    """The policy carried in the payload (``retry``), if any and valid."""
    settings = job.extras.get(RETRY_KEY)
    if not isinstance(settings, dict):
        return None
    try:
        return policy_from(settings, prefix="retry.")
    except ValidationError:
        return None
