"""Messages shown after a redirect: fixed texts chosen by a code in the URL, so
nothing a visitor types is ever echoed into the page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class Notice:
    level: str  # "ok" or "warn"
    text: str


MESSAGES: dict[str, tuple[str, str]] = {
    "retried": ("ok", "The job was put back on its queue; the record stays, marked retried."),
    "removed": ("ok", "The failure record was removed."),
    "moved": (
        "warn",
        "That failure record moved or changed since the page was loaded (someone else "
        "retried, removed or cleared it). Nothing was changed.",
    ),
    "not-retryable": ("warn", "That record has no queue or payload to retry. Nothing changed."),
    "retried-all": (
        "ok",
        "{n} failed jobs were put back on their queues (records already retried were skipped).",
    ),
    "cleared": ("ok", "{n} failure records were deleted."),
    "cleared-retried": ("ok", "{n} retried failure records were deleted."),
    "queue-removed": ("ok", "The queue and its {n} waiting jobs were removed."),
    "queue-paused": (
        "ok",
        "The queue is paused: workers take no job from it (jobs stay; producers can still "
        "add to it).",
    ),
    "queue-resumed": ("ok", "The queue is resumed: workers take jobs from it again."),
    "queue-gone": ("warn", "That queue no longer exists. Nothing was changed."),
    "paused": ("ok", "Every worker is paused (pause-all-workers)."),
    "resumed": ("ok", "Workers are taking jobs again."),
    "delayed-run": ("ok", "{n} delayed jobs were put on their queues now."),
    "delayed-removed": ("ok", "{n} delayed jobs were deleted."),
    "delayed-job-removed": ("ok", "The delayed job was deleted."),
    "delayed-copies-removed": (
        "ok",
        "{n} delayed jobs with exactly these bytes were due at that time; all were deleted.",
    ),
    "delayed-gone": (
        "warn",
        "No jobs are due at that time any more (a scheduler moved them, or someone removed "
        "them). Nothing was changed.",
    ),
    "delayed-moved": (
        "warn",
        "That delayed job is no longer there (a scheduler moved it, or someone removed it). "
        "Nothing was changed.",
    ),
    "schedule-enqueued": ("ok", "The scheduled job was enqueued now."),
    "schedule-unusable": (
        "warn",
        "That schedule is gone or its definition is invalid. Nothing was enqueued.",
    ),
    "schedule-removed": ("ok", "The recurring schedule was deleted."),
}


def current() -> Notice | None:
    code = request.args.get("notice", "")
    if code not in MESSAGES:
        return None
    level, template = MESSAGES[code]
    count = request.args.get("n", "0")
    return Notice(level, template.format(n=int(count) if count.isdigit() else 0))
