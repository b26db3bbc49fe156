"""The counters and totals at a glance."""

from __future__ import annotations

import click

from resque_cli.output import Document, emit, table
from resque_cli.state import CliState, json_option, pass_state

LABELS = {
    "processed": "processed",
    "failed": "failed",
    "queues": "queues",
    "workers": "workers",
    "working": "working",
    "pending": "pending",
    "delayed": "delayed jobs",
    "failed_records": "failed records",
}


@click.command("stats")
@json_option
@pass_state
def stats_command(state: CliState) -> None:
    """Show jobs processed and failed (Resque's counters), queues, workers, workers
    busy, jobs pending in queues, delayed jobs and failure records."""
    resque = state.resque
    sizes = resque.queues.sizes()
    workers = resque.workers.all()
    document = {
        "processed": resque.stats.processed(),
        "failed": resque.stats.failed(),
        "queues": len(sizes),
        "workers": len(workers),
        "working": sum(1 for worker in workers if worker.busy),
        "pending": sum(sizes.values()),
        "delayed": resque.delayed.count(),
        "failed_records": resque.failures.count(),
    }
    emit(state, document, render_stats)


def render_stats(document: Document) -> str:
    return table(("STAT", "VALUE"), [(LABELS[name], value) for name, value in document.items()])
