"""Turning a decoded request body into jobs, or a per-field list of errors.

Field rules are resque_proto's (the same ones every producer obeys); this
module adds the shape of the HTTP documents: which members exist, which are
required, and where in a batch an error is (``jobs[3].queue``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resque_enqueuer.problems import Problem
from resque_enqueuer.timing import DELAY, RUN_AT, Horizon, requested_delay, requested_run_at
from resque_proto.errors import ValidationError
from resque_proto.payload import validate_args, validate_class, validate_queue
from resque_proto.retry import RETRY_KEY, policy_from

JOB_FIELDS = ("queue", "class", "args", RUN_AT, DELAY, RETRY_KEY)
OPTIONAL_FIELDS = ("args", RUN_AT, DELAY, RETRY_KEY)
EXCEPTION_LISTS = ("retry_exceptions", "fatal_exceptions")
BATCH_FIELDS = ("jobs",)

FieldError = dict[str, str]


@dataclass(frozen=True)
class JobSpec:
    queue: str
    class_name: str
    args: list[Any]
    due: int | None  # the second a delayed job is filed under; None: enqueue now
    retry: dict[str, Any] | None = None  # the job's retry object, as the client sent it


def invalid(errors: list[FieldError]) -> Problem:
    shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return Problem(422, "validation-failed", f"invalid request: {shown}{more}", errors=errors)


def error(field: str, message: str) -> FieldError:
    return {"field": field, "message": message}


FieldChecks = list[tuple[str, Callable[[Any], Any]]]


def check_job(
    body: Any, horizon: Horizon, prefix: str = "", checks: FieldChecks | None = None
) -> tuple[JobSpec | None, list[FieldError]]:
    """One job object, checked member by member (by ``checks``, ``field_checks(horizon)``
    unless a batch passes its own once for all its jobs); every problem is reported."""
    if not isinstance(body, dict):
        where = prefix.rstrip(".") or "body"
        return None, [error(where, f"must be a JSON object, got {json_type(body)}")]
    errors = [
        error(prefix + name, f"unknown field (allowed: {', '.join(JOB_FIELDS)})")
        for name in body
        if name not in JOB_FIELDS
    ]
    if RUN_AT in body and DELAY in body:
        errors.append(error(prefix + DELAY, f"cannot be given with {RUN_AT}: give one of them"))
    values: dict[str, Any] = {}
    for name, check in checks or field_checks(horizon):
        if name not in body:
            if name not in OPTIONAL_FIELDS:
                errors.append(error(prefix + name, "is required"))
            continue
        try:
            values[name] = check(body[name])
        except ValidationError as failure:
            errors.append(error(prefix + failure.field, failure.message))
        except RecursionError:
            errors.append(error(prefix + name, "is nested too deeply"))
    if errors:
        return None, errors
    when = values.get(RUN_AT, values.get(DELAY, horizon.now))
    spec = JobSpec(
        values["queue"],
        values["class"],
        values.get("args", []),
        horizon.due(when),
        values.get(RETRY_KEY),
    )
    return spec, []


def field_checks(horizon: Horizon) -> FieldChecks:
    """Each member's check; ``run_at`` and ``delay_seconds`` give the epoch seconds asked for."""
    return [
        ("queue", validate_queue),
        ("class", validate_class),
        ("args", validate_args),
        (RUN_AT, lambda value: requested_run_at(value, horizon)),
        (DELAY, lambda value: requested_delay(value, horizon)),
        (RETRY_KEY, validate_retry),
    ]


def validate_retry(value: Any) -> dict[str, Any]:
    """A retry object: resque_proto's policy rules, plus the JSON shape the API documents
    (exception names only as lists of strings). Returned as sent, to be stored so, except
    that a whole ``limit`` written as a float (``3.0``) becomes an integer, as the worker
    needs (JSON, and JSON Schema's ``integer``, do not tell them apart)."""
    if not isinstance(value, dict):
        raise ValidationError(RETRY_KEY, f"must be a JSON object, got {json_type(value)}")
    settings: dict[str, Any] = value
    if "backoff" in settings and settings["backoff"] is None:  # policy_from reads null as "fixed"
        raise ValidationError(
            f"{RETRY_KEY}.backoff", "must be fixed, exponential or a list of delays"
        )
    for name in EXCEPTION_LISTS:
        names = settings.get(name)
        if name in settings and not isinstance(names, list):
            raise ValidationError(f"{RETRY_KEY}.{name}", "must be a list of exception names")
        for index, item in enumerate(names or []):
            if isinstance(item, str) and not is_utf8(item):
                raise ValidationError(f"{RETRY_KEY}.{name}[{index}]", "is not valid UTF-8")
    limit = settings.get("limit")
    if isinstance(limit, float) and limit.is_integer():  # 3.0 is the integer 3 in JSON
        settings = {**settings, "limit": int(limit)}
    policy_from(settings, prefix=f"{RETRY_KEY}.")
    return settings


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_job(body: Any, horizon: Horizon) -> JobSpec:
    spec, errors = check_job(body, horizon)
    if spec is None:
        raise invalid(errors)
    return spec


def parse_batch(body: Any, max_batch: int, horizon: Horizon) -> list[JobSpec]:
    """Every job of a batch, or one 422 listing the errors of all items."""
    if not isinstance(body, dict):
        raise invalid([error("body", f"must be a JSON object, got {json_type(body)}")])
    errors = [
        error(name, "unknown field (allowed: jobs)") for name in body if name not in BATCH_FIELDS
    ]
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        problem = "is required" if "jobs" not in body else f"must be a list, got {json_type(jobs)}"
        raise invalid([*errors, error("jobs", problem)])
    if not 1 <= len(jobs) <= max_batch:
        errors.append(
            error("jobs", f"must hold 1 to {max_batch} jobs (ENQUEUER_MAX_BATCH), got {len(jobs)}")
        )
        raise invalid(errors)
    specs = []
    checks = field_checks(horizon)
    for index, item in enumerate(jobs):
        spec, item_errors = check_job(item, horizon, f"jobs[{index}].", checks)
        errors += item_errors
        if spec is not None:
            specs.append(spec)
    if errors:
        raise invalid(errors)
    return specs


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)
