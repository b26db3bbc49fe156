"""The dashboard's pages (GET only; every change is a POST in ``actions``)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from resque_frontend import delayed, failed, history, jobstatus, reads, schedule
from resque_frontend.context import int_arg, optional_int_arg, resque, settings
from resque_frontend.failed import FailureFilter, FailureList

blueprint = Blueprint("pages", __name__)

QUEUE_PAGE = 20
FAILED_PAGE = 25
DELAYED_PAGE = 25  # timestamps
DELAYED_JOBS_PAGE = 20  # jobs due at one timestamp, like a queue


@blueprint.get("/")
def overview() -> str:
    r = resque()
    totals = reads.totals(r)
    queues = reads.queue_rows(r, totals.queue_names, totals.now)
    busy = [w for w in reads.workers(r, settings(), totals.now) if w.info.busy]
    bars = history.record(r, totals.processed, totals.failed, totals.now)
    return render_template(
        "overview.html", live=True, totals=totals, queues=queues, busy=busy,
        chart=history.chart(bars, totals.now),
    )  # fmt: skip


@blueprint.get("/working")
def working() -> str:
    r = resque()
    totals = reads.totals(r)
    views = reads.workers(r, settings(), totals.now)
    busy = sorted((w for w in views if w.info.busy), key=lambda w: -(w.running_for or 0))
    return render_template(
        "working.html", live=True, totals=totals, busy=busy, worker_total=len(views)
    )


@blueprint.get("/queues")
def queues() -> str:
    r = resque()
    totals = reads.totals(r)
    rows = reads.queue_rows(r, totals.queue_names, totals.now)
    return render_template("queues.html", totals=totals, queues=rows)


@blueprint.get("/queues/<path:name>")
def queue(name: str) -> str:
    r = resque()
    totals = reads.totals(r)
    page = int_arg("page")
    listing = reads.queue_page(r, name, page * QUEUE_PAGE, QUEUE_PAGE)
    if name not in totals.queue_names and listing.size == 0:
        abort(404, f"There is no queue named {name!r}.")
    return render_template(
        "queue.html", totals=totals, name=name, size=listing.size, jobs=listing.jobs,
        paused=listing.paused, page=page, per_page=QUEUE_PAGE,
    )  # fmt: skip


@blueprint.get("/workers")
def workers() -> str:
    r = resque()
    totals = reads.totals(r)
    views = reads.workers(r, settings(), totals.now)
    return render_template(
        "workers.html", live=True, totals=totals, hosts=reads.by_host(views), count=len(views),
        stale=sum(1 for v in views if v.stale), busy=sum(1 for v in views if v.info.busy),
    )  # fmt: skip


@blueprint.get("/workers/<path:worker_id>")
def worker(worker_id: str) -> str:
    r = resque()
    totals = reads.totals(r)
    info = r.workers.get(worker_id)
    if info is None:
        abort(404, "That worker is not registered (it may have exited).")
    view = reads.worker_view(info, settings(), totals.now)
    return render_template("worker.html", live=True, totals=totals, worker=view)


def _filter() -> FailureFilter:
    return FailureFilter(
        queue=request.args.get("queue", "").strip(),
        class_name=request.args.get("class", "").strip(),
        exception=request.args.get("exception", "").strip(),
    )


def _failure_list() -> FailureList:
    """The ``list`` parameter's failure list (default ``failed``); 404 for any other key."""
    name = request.args.get("list", "")
    chosen = failed.failure_list(resque(), name)
    if chosen is None:
        abort(404, f"There is no failure list named {name!r}.")
    return chosen


@blueprint.get("/failed")
def failed_list() -> str:
    """One failure list, newest first (``order=oldest``: list order, as resque-web),
    with the multi-queue backend's lists and their sizes when Ruby wrote any."""
    r = resque()
    totals = reads.totals(r)
    source = _failure_list()
    wanted = _filter()
    oldest = request.args.get("order") == "oldest"
    page = int_arg("page")
    if wanted.active and oldest:
        listing = failed.filtered_oldest_page(source.failures, wanted, int_arg("after"),
                                              FAILED_PAGE)  # fmt: skip
    elif wanted.active:
        listing = failed.filtered_page(source.failures, wanted, optional_int_arg("before"),
                                       FAILED_PAGE)  # fmt: skip
    elif oldest:
        listing = failed.oldest_page(source.failures, page, FAILED_PAGE)
    else:
        listing = failed.newest_page(source.failures, page, FAILED_PAGE)
    return render_template(
        "failed.html", totals=totals, listing=listing, wanted=wanted, page=page,
        per_page=FAILED_PAGE, source=source, oldest=oldest,
        failure_queues=failed.failure_queue_rows(r), fields={**source.params(), **wanted.params()},
        scope_queue=wanted.queue or source.queue,
    )  # fmt: skip


@blueprint.get("/failed/<int:index>/<record_id>")
def failure(index: int, record_id: str) -> str:
    r = resque()
    totals = reads.totals(r)
    source = _failure_list()
    item = failed.find(source.failures, index, record_id)
    if item is None:
        abort(404, "That failure record is gone or has changed (it was retried, removed or "
                   "cleared since the link was made).")  # fmt: skip
    return render_template("failure.html", totals=totals, item=item, source=source)


@blueprint.get("/delayed")
def delayed_list() -> str:
    r = resque()
    totals = reads.totals(r)
    page = int_arg("page")
    listing = delayed.timestamps_page(r, page, DELAYED_PAGE)
    return render_template(
        "delayed.html", totals=totals, listing=listing, page=page, per_page=DELAYED_PAGE
    )


@blueprint.get("/delayed/<int:timestamp>")
def delayed_timestamp(timestamp: int) -> str:
    r = resque()
    totals = reads.totals(r)
    page = int_arg("page")
    start = page * DELAYED_JOBS_PAGE
    size, jobs = delayed.jobs_page(r, timestamp, start, DELAYED_JOBS_PAGE)
    if size == 0:
        abort(404, "No jobs are due at that time (they were run or removed).")
    return render_template(
        "delayed_timestamp.html", totals=totals, timestamp=timestamp, size=size, jobs=jobs,
        page=page, per_page=DELAYED_JOBS_PAGE,
    )  # fmt: skip


@blueprint.get("/schedule")
def schedule_list() -> str:
    r = resque()
    totals = reads.totals(r)
    return render_template("schedule.html", totals=totals, listing=schedule.listing(r, totals.now))


@blueprint.get("/jobs")
def job_lookup() -> Response | str:
    """The lookup form; ``?id=`` (what the form sends) redirects to that job's page."""
    wanted = request.args.get("id", "").strip()
    if wanted:
        return redirect(url_for("pages.job_status", job_id=wanted))
    return render_template("job_lookup.html", totals=reads.totals(resque()))


@blueprint.get("/jobs/<path:job_id>")
def job_status(job_id: str) -> str:
    r = resque()
    totals = reads.totals(r)
    status = jobstatus.lookup(r, job_id)
    return render_template("job_status.html", totals=totals, job_id=job_id, status=status,
                           failed_search=jobstatus.FAILED_SEARCH)  # fmt: skip
