"""Queues: list them, look into one, pause and resume one."""

from __future__ import annotations

from typing import Any

import click

from resque_cli.errors import CliError
from resque_cli.output import Document, compact_json, emit, plural, shortened, table, utc_time
from resque_cli.state import CliState, json_option, pass_state
from resque_proto.jobs import ENQUEUED_AT_KEY, JOB_ID_KEY
from resque_proto.payload import validate_queue
from resque_proto.queues import QueuedJob


@click.command("queues")
@json_option
@pass_state
def queues_command(state: CliState) -> None:
    """List every queue with its size and whether it is paused, sorted by name."""
    queues = state.resque.queues
    names = queues.names()
    sizes = queues.sizes(names)
    paused = queues.paused(names)
    document = {
        "queues": [{"name": name, "size": sizes[name], "paused": name in paused} for name in names]
    }
    emit(state, document, render_queues)


def render_queues(document: Document) -> str:
    rows = [(q["name"], q["size"], q["paused"]) for q in document["queues"]]
    if not rows:
        return "No queues."
    return table(("QUEUE", "SIZE", "PAUSED"), rows)


@click.command("queue")
@click.argument("name")
@click.option(
    "--peek",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="N",
    help="How many jobs to show from the head of the queue.",
)
@json_option
@pass_state
def queue_command(state: CliState, name: str, peek: int) -> None:
    """Show queue NAME: its size, whether it is paused, and its first jobs."""
    validate_queue(name)
    queues = state.resque.queues
    size = queues.size(name)
    if size == 0 and name not in queues.names():
        raise CliError(f"no queue named {name!r} (`resque queues` lists them)")
    document = {
        "name": name,
        "size": size,
        "paused": name in queues.paused([name]),
        "jobs": [queued_job(job) for job in queues.peek(name, 0, peek)] if peek else [],
    }
    emit(state, document, render_queue)


def queued_job(job: QueuedJob) -> dict[str, Any]:
    return {
        "index": job.index,
        "class": job.class_name,
        "args": job.args,
        "id": job.extras.get(JOB_ID_KEY),
        "enqueued_at": job.extras.get(ENQUEUED_AT_KEY),
        "error": job.error,
        "payload": job.raw,
    }


def render_queue(document: Document) -> str:
    state = "paused" if document["paused"] else "not paused"
    summary = f"Queue {document['name']}: {plural(document['size'], 'job')}, {state}."
    if not document["jobs"]:
        return summary
    rows = [
        (
            job["index"],
            job["class"] or "(unreadable)",
            shortened(job["error"] or compact_json(job["args"])),
            job["id"],
            _enqueued_text(job["enqueued_at"]),
        )
        for job in document["jobs"]
    ]
    return summary + "\n\n" + table(("#", "CLASS", "ARGS", "ID", "ENQUEUED_AT"), rows)


def _enqueued_text(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return utc_time(value)
    return None


@click.command("pause")
@click.argument("queue")
@json_option
@pass_state
def pause_command(state: CliState, queue: str) -> None:
    """Stop workers taking jobs from QUEUE (jobs can still be enqueued).

    Uses the resque-pause key, which Ruby workers with that plugin honour too.
    """
    validate_queue(queue)
    state.resque.queues.pause(queue)
    emit(state, {"queue": queue, "paused": True}, render_pause)


@click.command("resume")
@click.argument("queue")
@json_option
@pass_state
def resume_command(state: CliState, queue: str) -> None:
    """Let workers take jobs from QUEUE again."""
    validate_queue(queue)
    state.resque.queues.resume(queue)
    emit(state, {"queue": queue, "paused": False}, render_pause)


def render_pause(document: Document) -> str:
    if document["paused"]:
        return f"Paused queue {document['queue']}: workers take no jobs from it."
    return f"Resumed queue {document['queue']}: workers take its jobs again."
