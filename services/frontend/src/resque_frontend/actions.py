"""Every state change: POST only (CSRF-checked in ``security``), then redirect.

Destructive actions need ``confirm=yes``; without it the server answers with a
confirmation page, so they are confirmed with JavaScript off too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from resque_frontend import delayed, failed, schedule
from resque_frontend.context import resque
from resque_frontend.failed import FailureList
from resque_frontend.presenters import utc
from resque_proto import FailureMoved, Resque

blueprint = Blueprint("actions", __name__)


def _back(endpoint: str, notice: str, count: int | None = None, /, **values: Any) -> Response:
    if count is not None:
        values["n"] = count
    return redirect(url_for(endpoint, notice=notice, **values), 303)


def _confirmed(question: str, button: str, fields: dict[str, str] | None = None) -> str | None:
    """None when the form says ``confirm=yes``; else the confirmation page, whose form
    posts ``fields`` again (the filter of a bulk action)."""
    if request.form.get("confirm") == "yes":
        return None
    return render_template("confirm.html", question=question, button=button, totals=None,
                           fields=fields or {})  # fmt: skip


def _form_list() -> FailureList:
    """The form's ``list`` (default ``failed``); 404 when it names no failure list."""
    name = request.form.get("list", "")
    chosen = failed.failure_list(resque(), name)
    if chosen is None:
        abort(404, f"There is no failure list named {name!r}.")
    return chosen


@blueprint.post("/failed/<int:index>/<record_id>/retry")
def retry(index: int, record_id: str) -> Response:
    source = _form_list()
    back = source.params()
    item = failed.find(source.failures, index, record_id)
    if item is None:
        return _back("pages.failed_list", "moved", **back)
    try:
        at = source.failures.retry(item.index, item.failure.raw)
    except FailureMoved:
        return _back("pages.failed_list", "moved", **back)
    except ValueError:
        return _back("pages.failed_list", "not-retryable", **back)
    fresh = source.failures.get(at)
    if fresh is None:
        return _back("pages.failed_list", "retried", **back)
    return _back("pages.failure", "retried", index=at, record_id=failed.view(at, fresh.raw).id,
                 **back)  # fmt: skip


@blueprint.post("/failed/<int:index>/<record_id>/remove")
def remove(index: int, record_id: str) -> Response | str:
    source = _form_list()
    back = source.params()
    item = failed.find(source.failures, index, record_id)
    if item is None:
        return _back("pages.failed_list", "moved", **back)
    page = _confirmed(
        f"Remove the failure record of {item.job.class_name} ({item.failure.exception})?",
        "Remove record",
        back,
    )
    if page is not None:
        return page
    try:
        source.failures.remove(item.failure.raw)
    except FailureMoved:
        return _back("pages.failed_list", "moved", **back)
    return _back("pages.failed_list", "removed", **back)


@blueprint.post("/failed/retry-all")
def retry_all() -> Response | str:
    """Every record of the page's list that its filter (queue, class, exception: form
    fields) selects, except those already retried: their jobs went back once already."""
    source = _form_list()
    wanted = failed.FailureFilter(
        queue=request.form.get("queue", "").strip(),
        class_name=request.form.get("class", "").strip(),
        exception=request.form.get("exception", "").strip(),
    )
    fields = {**source.params(), **wanted.params()}
    button = "Retry matching" if wanted.active else "Retry all"
    page = _confirmed(wanted.retry_all_question, button, fields)
    if page is not None:
        return page
    where = wanted.selects if wanted.active else None
    retried = source.failures.retry_all(where)
    return _back("pages.failed_list", "retried-all", retried, **fields)


@blueprint.post("/failed/clear")
def clear() -> Response | str:
    """Every record of the page's list (Resque's ``Failure.clear(queue)``)."""
    source = _form_list()
    page = _confirmed(f"Delete every failure record {_in_list(source)}? This cannot be undone.",
                      "Clear all", source.params())  # fmt: skip
    if page is not None:
        return page
    return _back("pages.failed_list", "cleared", source.failures.clear(), **source.params())


@blueprint.post("/failed/clear-retried")
def clear_retried() -> Response | str:
    source = _form_list()
    page = _confirmed(f"Delete every failure record {_in_list(source)} that was already "
                      "retried?", "Clear retried", source.params())  # fmt: skip
    if page is not None:
        return page
    removed = source.failures.clear_retried()
    return _back("pages.failed_list", "cleared-retried", removed, **source.params())


def _in_list(source: FailureList) -> str:
    return "in the failed list" if source.queue is None else f"in the list {source.name}"


@blueprint.post("/failed/queues/<path:queue>/retry")
def retry_failed_queue(queue: str) -> Response | str:
    """Resque's ``Failure.requeue_queue``: the failures of one job queue, in the failed
    list and in its multi-queue list, except records already retried."""
    page = _confirmed(f"Put every failed job of queue {queue!r} back on it? Records already "
                      "retried are skipped.", "Retry queue")  # fmt: skip
    if page is not None:
        return page
    outcome = resque().failures.requeue_queue(queue)
    return _back("pages.failed_list", "retried-all", outcome.retried, queue=queue)


@blueprint.post("/failed/queues/<path:queue>/clear")
def clear_failed_queue(queue: str) -> Response | str:
    """Resque's ``Failure.remove_queue``: delete the failures of one job queue."""
    page = _confirmed(f"Delete every failure record of queue {queue!r}? This cannot be "
                      "undone.", "Clear queue")  # fmt: skip
    if page is not None:
        return page
    return _back("pages.failed_list", "cleared", resque().failures.remove_queue(queue),
                 queue=queue)  # fmt: skip


@blueprint.post("/queues/<path:name>/remove")
def remove_queue(name: str) -> Response | str:
    r = resque()
    size = r.queues.size(name)
    page = _confirmed(
        f"Remove the queue {name!r} and drop the {size} jobs waiting in it?", "Remove queue"
    )
    if page is not None:
        return page
    r.queues.remove_queue(name)
    return _back("pages.queues", "queue-removed", size)


def _after_queue(name: str, notice: str) -> Response:
    """Back to the queue's page, or to the list when the form came from there."""
    if request.form.get("back") == "queues":
        return _back("pages.queues", notice)
    return _back("pages.queue", notice, name=name)


def _queue_exists(r: Resque, name: str) -> bool:
    """Known (in ``queues``) or holding jobs, as the queue's page decides: one round trip."""
    pipe = r.redis.pipeline(transaction=False)
    pipe.sismember(r.keys.queues, name)
    pipe.llen(r.keys.queue(name))
    known, size = pipe.execute()
    return bool(known) or int(size) > 0


@blueprint.post("/queues/<path:name>/pause")
def pause_queue(name: str) -> Response:
    """resque-pause's key: no worker (ours, or Ruby's with the plugin) takes from it.
    No confirmation, like pausing every worker: nothing is lost and resume undoes it."""
    r = resque()
    if not _queue_exists(r, name):
        return _back("pages.queues", "queue-gone")
    r.queues.pause(name)
    return _after_queue(name, "queue-paused")


@blueprint.post("/queues/<path:name>/resume")
def resume_queue(name: str) -> Response:
    """Always allowed, so a pause left on a queue that was removed can be lifted."""
    r = resque()
    r.queues.resume(name)
    if not _queue_exists(r, name):
        return _back("pages.queues", "queue-resumed")
    return _after_queue(name, "queue-resumed")


@blueprint.post("/workers/pause")
def pause() -> Response:
    resque().stats.pause_all()
    return _back("pages.overview", "paused")


@blueprint.post("/workers/resume")
def resume() -> Response:
    resque().stats.resume_all()
    return _back("pages.overview", "resumed")


def _after_delayed(timestamp: int, notice: str, count: int | None = None) -> Response:
    """Back to the timestamp's page while jobs are left there, else to the list."""
    if resque().delayed.size_at(timestamp):
        return _back("pages.delayed_timestamp", notice, count, timestamp=timestamp)
    return _back("pages.delayed_list", notice, count)


@blueprint.post("/delayed/<int:timestamp>/run")
def run_delayed(timestamp: int) -> Response | str:
    r = resque()
    size = r.delayed.size_at(timestamp)
    if size == 0:
        return _back("pages.delayed_list", "delayed-gone")
    page = _confirmed(f"Put the {size} jobs due at {utc(timestamp)} on their queues now?",
                      "Run now")  # fmt: skip
    if page is not None:
        return page
    return _back("pages.delayed_list", "delayed-run", r.delayed.run_now(timestamp))


@blueprint.post("/delayed/<int:timestamp>/remove")
def remove_delayed(timestamp: int) -> Response | str:
    r = resque()
    size = r.delayed.size_at(timestamp)
    if size == 0:
        return _back("pages.delayed_list", "delayed-gone")
    page = _confirmed(f"Delete the {size} jobs due at {utc(timestamp)}? They will never run.",
                      "Remove jobs")  # fmt: skip
    if page is not None:
        return page
    return _back("pages.delayed_list", "delayed-removed", r.delayed.remove_timestamp(timestamp))


@blueprint.post("/delayed/<int:timestamp>/jobs/<int:index>/<job_id>/remove")
def remove_delayed_job(timestamp: int, index: int, job_id: str) -> Response | str:
    r = resque()
    job = delayed.find(r, timestamp, index, job_id)
    if job is None:
        return _after_delayed(timestamp, "delayed-moved")
    name = job.view.class_name if job.view else "unreadable"
    page = _confirmed(f"Delete the delayed {name} job due at {utc(timestamp)}?", "Remove job")
    if page is not None:
        return page
    removed = r.delayed.remove_payload(job.raw, timestamp=timestamp)
    if removed == 0:
        return _after_delayed(timestamp, "delayed-moved")
    notice = "delayed-job-removed" if removed == 1 else "delayed-copies-removed"
    return _after_delayed(timestamp, notice, removed)


@blueprint.post("/schedule/<path:name>/enqueue")
def enqueue_schedule(name: str) -> Response:
    r = resque()
    entry = schedule.entry_named(r, name)
    if entry is None:
        return _back("pages.schedule_list", "schedule-unusable")
    r.enqueue(entry.queue, entry.class_name, *entry.args)
    return _back("pages.schedule_list", "schedule-enqueued")


@blueprint.post("/schedule/<path:name>/remove")
def remove_schedule(name: str) -> Response | str:
    page = _confirmed(f"Delete the recurring schedule {name!r}? No scheduler will enqueue it "
                      "any more.", "Delete schedule")  # fmt: skip
    if page is not None:
        return page
    resque().schedules.remove([name])
    return _back("pages.schedule_list", "schedule-removed")
