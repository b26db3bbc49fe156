"""Workers: list them (or only the stale ones), and prune the dead ones once."""

from __future__ import annotations

import os
import socket
from typing import Any

import click

from resque_cli.output import Document, duration, emit, plural, table
from resque_cli.state import CliState, Command, json_option, pass_state
from resque_proto import PrunePolicy, Resque
from resque_proto.prune import stale_workers
from resque_proto.recovery import Recovery
from resque_proto.text import text
from resque_proto.workers import WorkerInfo, server_time

DEFAULT_POLICY = PrunePolicy()
CLI_PRUNE_LOCK_SECONDS = 1
"""The prune lock only spaces pruner runs apart (recovery itself is race-safe); a
one-off run from the command line should not hold off the workers' own pruning."""


def prune_after_option(command: Command) -> Command:
    return click.option(
        "--prune-after",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_POLICY.ours_stale_after,
        show_default=True,
        envvar="RESQUE_PRUNE_AFTER",
        show_envvar=True,
        metavar="SECONDS",
        help="Seconds without a heartbeat before one of our workers counts as dead "
        f"(Ruby workers: {DEFAULT_POLICY.ruby_stale_after:g}, as Resque).",
    )(command)


@click.command("workers")
@click.option("--stale", is_flag=True, help="Only workers the pruner would treat as dead.")
@prune_after_option
@json_option
@pass_state
def workers_command(state: CliState, stale: bool, prune_after: float) -> None:
    """List registered workers: id, host, pid, queues, state, current job, and the
    age of their last heartbeat (by Redis's clock)."""
    resque = state.resque
    policy = PrunePolicy(ours_stale_after=prune_after)
    dead = set(stale_workers(resque.redis, resque.keys, policy))
    now = server_time(resque.redis)
    workers = [worker_document(info, info.id in dead, now) for info in resque.workers.all()]
    document = {"workers": [w for w in workers if w["stale"] or not stale]}
    emit(state, document, render_workers)


def worker_document(info: WorkerInfo, stale: bool, now: float) -> dict[str, Any]:
    beat = info.heartbeat
    return {
        "id": info.id,
        "host": info.host,
        "pid": info.pid,
        "queues": info.queues,
        "state": info.state,
        "job": None if info.job is None else current_job(info.job),
        "started": info.started,
        "heartbeat": beat.isoformat() if beat else None,
        "heartbeat_age": None if beat is None else round(now - beat.timestamp()),
        "stale": stale,
        "ours": info.ours,
        "processed": info.processed,
        "failed": info.failed,
    }


def current_job(working: dict[str, Any]) -> dict[str, Any]:
    """The ``worker:<id>`` record (``{"queue","run_at","payload"}``) flattened."""
    payload = working.get("payload")
    body = payload if isinstance(payload, dict) else {}
    return {
        "queue": working.get("queue"),
        "class": body.get("class"),
        "args": body.get("args"),
        "run_at": working.get("run_at"),
    }


def render_workers(document: Document) -> str:
    if not document["workers"]:
        return "No workers."
    rows = [
        (
            w["id"],
            w["host"],
            w["pid"],
            ",".join(w["queues"]),
            w["state"],
            _job_text(w["job"]),
            _heartbeat_text(w["heartbeat_age"], w["stale"]),
        )
        for w in document["workers"]
    ]
    return table(("ID", "HOST", "PID", "QUEUES", "STATE", "JOB", "HEARTBEAT"), rows)


def _job_text(job: dict[str, Any] | None) -> str | None:
    if job is None:
        return None
    return f"{job['class'] or '?'} on {job['queue'] or '?'}"


def _heartbeat_text(age: float | None, stale: bool) -> str:
    if age is None:
        return "never"
    return f"{duration(age)} ago" + (" (stale)" if stale else "")


@click.command("prune")
@prune_after_option
@click.option(
    "--max-redeliveries",
    type=click.IntRange(min=0),
    default=DEFAULT_POLICY.redelivery_limit,
    show_default=True,
    envvar="RESQUE_MAX_REDELIVERIES",
    show_envvar=True,
    metavar="N",
    help="A job already put back this often after dead workers becomes a failure instead.",
)
@json_option
@pass_state
def prune_command(state: CliState, prune_after: float, max_redeliveries: int) -> None:
    """Run the dead-worker pruner once, as workers do every few seconds: unregister
    workers whose heartbeat is too old and put their jobs back on their queues
    (or record them as failed)."""
    resque = state.resque
    pruner_id = f"resque-cli:{socket.gethostname()}:{os.getpid()}"
    policy = PrunePolicy(
        ours_stale_after=prune_after,
        redelivery_limit=max_redeliveries,
        lock_seconds=CLI_PRUNE_LOCK_SECONDS,
    )
    recoveries = resque.prune_dead_workers(pruner_id, policy)
    document = {
        "skipped": None if recoveries else why_nothing_ran(resque, pruner_id, policy),
        "workers": [recovery_document(recovery) for recovery in recoveries],
        "requeued": sum(len(r.requeued) for r in recoveries),
        "failed": sum(len(r.failed) for r in recoveries),
    }
    emit(state, document, render_prune)


def why_nothing_ran(resque: Resque, pruner_id: str, policy: PrunePolicy) -> str | None:
    """Why ``prune_dead_workers`` returned nothing without looking, if it did not look.

    resque_proto returns ``[]`` alike for "no dead workers", "another process holds
    the prune lock" and "Redis restarted too recently to judge heartbeats".
    """
    holder = text(resque.redis.get(resque.keys.prune_lock))
    if holder is not None and holder != pruner_id:
        return f"another pruner ({holder}) ran moments ago and holds the prune lock"
    uptime = float(resque.redis.info("server").get("uptime_in_seconds", 0))
    if uptime < policy.ours_stale_after:
        return (
            f"Redis has been up for only {uptime:g}s, less than --prune-after "
            f"({policy.ours_stale_after:g}s): every heartbeat looks old after a restart"
        )
    return None


def recovery_document(recovery: Recovery) -> dict[str, Any]:
    return {
        "worker": recovery.worker_id,
        "requeued": [{"queue": job.queue, "payload": job.payload} for job in recovery.requeued],
        "failed": [{"queue": job.queue, "payload": job.payload} for job in recovery.failed],
    }


def render_prune(document: Document) -> str:
    if document["skipped"]:
        return f"Did not prune: {document['skipped']}."
    if not document["workers"]:
        return "No dead workers."
    rows = [(w["worker"], len(w["requeued"]), len(w["failed"])) for w in document["workers"]]
    summary = (
        f"Pruned {plural(len(rows), 'dead worker')}: {plural(document['requeued'], 'job')} "
        f"requeued, {document['failed']} failed."
    )
    return table(("WORKER", "REQUEUED", "FAILED"), rows) + "\n\n" + summary
