"""Jobs: enqueue one now or later, and list the delayed jobs waiting for their time."""

from __future__ import annotations

from typing import Any

import click

from resque_cli.arguments import delay_seconds, job_argument, rfc3339_time
from resque_cli.errors import CliError
from resque_cli.output import Document, emit, plural, table, utc_time
from resque_cli.state import CliState, json_option, pass_state
from resque_proto import Resque
from resque_proto.jobs import JOB_ID_KEY
from resque_proto.payload import decode_json


@click.command("enqueue")
@click.argument("queue")
@click.argument("class_name", metavar="CLASS")
@click.argument("args", nargs=-1)
@click.option(
    "--in", "delay", type=float, metavar="SECONDS", help="Run the job this many seconds from now."
)
@click.option("--at", metavar="RFC3339", help="Run the job at this time: 2027-01-01T09:00:00Z.")
@json_option
@pass_state
def enqueue_command(
    state: CliState,
    queue: str,
    class_name: str,
    args: tuple[str, ...],
    delay: float | None,
    at: str | None,
) -> None:
    """Enqueue a job of CLASS on QUEUE with ARGS, as Resque.enqueue does.

    Each ARG is read as JSON when it is JSON (44, true, null, "44", [1,2],
    {"a":1}) and as a string otherwise. Put -- before arguments that start
    with a dash: resque enqueue q Adjust -- -5. With --in or --at the job goes
    to the delayed schedule (resque-scheduler's layout) instead; a time that is
    not in the future enqueues it at once.
    """
    if delay is not None and at is not None:
        raise CliError("give --in or --at, not both")
    job_args = [job_argument(arg) for arg in args]
    resque = state.resque
    if delay is not None:
        seconds = delay_seconds("--in", delay)
        payload = resque.enqueue_in(seconds, queue, class_name, *job_args)
    elif at is not None:
        payload = resque.enqueue_at(rfc3339_time("--at", at), queue, class_name, *job_args)
    else:
        payload = resque.enqueue(queue, class_name, *job_args)
    emit(state, enqueued(resque, queue, payload), render_enqueued)


def enqueued(resque: Resque, queue: str, payload: str) -> dict[str, Any]:
    """What was written; ``scheduled_for`` is read back from Redis, since enqueue_at
    enqueues at once when its time has passed by the moment it runs."""
    scheduled = resque.delayed.scheduled_at(payload)
    body = decode_json(payload)
    return {
        "id": body.get(JOB_ID_KEY),
        "queue": queue,
        "class": body["class"],
        "args": body["args"],
        "scheduled_for": scheduled[0] if scheduled else None,
        "payload": payload,
    }


def render_enqueued(document: Document) -> str:
    when = document["scheduled_for"]
    if when is None:
        action = f"Enqueued job {document['id']} on queue {document['queue']}"
    else:
        action = (
            f"Scheduled job {document['id']} for queue {document['queue']} "
            f"at {utc_time(when)} ({when})"
        )
    return f"{action}\npayload: {document['payload']}"


@click.command("delayed")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    help="How many timestamps to show, soonest first.",
)
@json_option
@pass_state
def delayed_command(state: CliState, limit: int) -> None:
    """List the seconds delayed jobs are due at, soonest first, with their job counts."""
    delayed = state.resque.delayed
    document = {
        "total_jobs": delayed.count(),
        "total_timestamps": delayed.timestamp_count(),
        "timestamps": [
            {"timestamp": timestamp, "due_at": utc_time(timestamp), "jobs": jobs}
            for timestamp, jobs in delayed.timestamps(0, limit)
        ],
    }
    emit(state, document, render_delayed)


def render_delayed(document: Document) -> str:
    total = (
        f"{plural(document['total_jobs'], 'delayed job')} "
        f"at {plural(document['total_timestamps'], 'timestamp')}"
    )
    if not document["timestamps"]:
        return "No delayed jobs."
    rows = [(t["due_at"], t["timestamp"], t["jobs"]) for t in document["timestamps"]]
    shown = len(rows)
    more = "" if shown == document["total_timestamps"] else f" (first {shown} shown)"
    return table(("DUE_AT", "TIMESTAMP", "JOBS"), rows) + f"\n\n{total}{more}."
