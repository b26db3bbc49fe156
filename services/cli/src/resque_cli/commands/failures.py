"""Failure records: list them, retry them, remove them (every failure list: ``failed``
and the ``<queue>_failed`` lists of Ruby's redis_multi_queue backend)."""

from __future__ import annotations

from typing import Any

import click

from resque_cli.errors import CliError
from resque_cli.failed_records import (
    BulkOutcome,
    FailureFilter,
    ListedFailure,
    find,
    matching,
    remove_all,
    remove_each,
    retry_each,
    retryable,
    total,
)
from resque_cli.output import Document, emit, plural, shortened, table
from resque_cli.state import CliState, Command, json_option, pass_state
from resque_proto import Resque
from resque_proto.records import failure_id


def filter_options(command: Command) -> Command:
    command = click.option(
        "--class", "class_name", metavar="CLASS", help="Only records of jobs of this class."
    )(command)
    return click.option(
        "--queue", metavar="QUEUE", help="Only records from this queue (in every failure list)."
    )(command)


@click.command("failed")
@filter_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    help="Show at most N records, newest first.",
)
@click.option(
    "--oldest-first", is_flag=True, help="Oldest first, in list order (as resque-web shows)."
)
@json_option
@pass_state
def failed_command(
    state: CliState, queue: str | None, class_name: str | None, limit: int, oldest_first: bool
) -> None:
    """List failure records, newest first, with the ID that `retry` and
    `remove-failed` take (the dashboard shows the same IDs)."""
    selection = FailureFilter(queue, class_name)
    resque = state.resque
    found = matching(resque, selection)
    shown = found[:limit] if oldest_first else found[::-1][:limit]
    document = {
        "total": total(resque),
        "matching": len(found),
        "failures": [failure_document(item) for item in shown],
    }
    emit(state, document, render_failed)


def failure_document(item: ListedFailure) -> dict[str, Any]:
    failure = item.failure
    payload = failure.payload if isinstance(failure.payload, dict) else {}
    return {
        "id": failure_id(failure.raw),
        "list": item.list_name,
        "index": failure.index,
        "failed_at": failure.failed_at,
        "queue": failure.queue,
        "class": failure.class_name,
        "args": payload.get("args"),
        "exception": failure.exception,
        "error": failure.error,
        "worker": failure.worker,
        "retried_at": failure.retried_at,
        "backtrace": failure.backtrace,
    }


def render_failed(document: Document) -> str:
    if not document["failures"]:
        return f"No matching failure records ({document['total']} in total)."
    rows = [
        (
            f["id"],
            f["failed_at"],
            f["queue"],
            f["class"],
            f["exception"],
            shortened(str(f["error"] or "")),
            f["retried_at"],
        )
        for f in document["failures"]
    ]
    headers = ("ID", "FAILED_AT", "QUEUE", "CLASS", "EXCEPTION", "ERROR", "RETRIED_AT")
    summary = (
        f"{len(rows)} of {plural(document['matching'], 'matching record')} shown "
        f"({document['total']} in total)."
    )
    return table(headers, rows) + "\n\n" + summary


def chosen_failures(
    resque: Resque, wanted_id: str | None, every: bool, selection: FailureFilter
) -> list[ListedFailure]:
    """The records an ``ID | --all [--queue --class]`` command line names."""
    if wanted_id is not None and every:
        raise CliError("give a failure ID or --all, not both")
    if wanted_id is None and not every:
        raise CliError("give a failure ID (see `resque failed`) or --all")
    if wanted_id is not None and selection.active:
        raise CliError("--queue and --class narrow --all; they cannot be used with an ID")
    if every:
        return matching(resque, selection)
    found = find(resque, wanted_id or "")
    if found is None:
        raise CliError(f"no failure record with ID {wanted_id!r} (see `resque failed`)")
    return [found]


@click.command("retry")
@click.argument("failure_id", metavar="[ID]", required=False)
@click.option("--all", "every", is_flag=True, help="Every record not retried yet.")
@filter_options
@json_option
@pass_state
def retry_command(
    state: CliState,
    failure_id: str | None,
    every: bool,
    queue: str | None,
    class_name: str | None,
) -> None:
    """Push failed jobs back on their queues: the record with ID (as `resque failed`
    shows it), or with --all every record not retried yet, narrowed by
    --queue/--class.

    Records stay in the list with retried_at set, as resque-web does; a retried
    record has new bytes, so a new ID.
    """
    resque = state.resque
    chosen = chosen_failures(resque, failure_id, every, FailureFilter(queue, class_name))
    if failure_id is not None and not retryable(chosen[0].failure):
        raise CliError(f"failure record {failure_id} has no queue or payload to retry")
    outcome = retry_each(resque, chosen, skip_retried=every)
    if failure_id is not None and outcome.gone:
        raise CliError(f"failure record {failure_id} changed or went away meanwhile")
    emit(state, outcome_document(outcome, "retried"), render_retried)


@click.command("remove-failed")
@click.argument("failure_id", metavar="[ID]", required=False)
@click.option("--all", "every", is_flag=True, help="Every record (narrowed by --queue/--class).")
@filter_options
@json_option
@pass_state
def remove_failed_command(
    state: CliState,
    failure_id: str | None,
    every: bool,
    queue: str | None,
    class_name: str | None,
) -> None:
    """Delete failure records: the one with ID, or --all (narrowed by --queue/--class)."""
    resque = state.resque
    selection = FailureFilter(queue, class_name)
    if every and failure_id is None and not selection.active:
        outcome = remove_all(resque)
    else:
        outcome = remove_each(resque, chosen_failures(resque, failure_id, every, selection))
        if failure_id is not None and outcome.gone:
            raise CliError(f"failure record {failure_id} changed or went away meanwhile")
    emit(state, outcome_document(outcome, "removed"), render_removed)


def outcome_document(outcome: BulkOutcome, verb: str) -> dict[str, int]:
    document = {"matched": outcome.matched, verb: outcome.done, "gone": outcome.gone}
    if verb == "retried":
        document["skipped_already_retried"] = outcome.already_retried
        document["skipped_unretryable"] = outcome.unretryable
    return document


def _skips(document: Document) -> str:
    reasons = [
        (document.get("skipped_already_retried", 0), "already retried"),
        (document.get("skipped_unretryable", 0), "without a queue or payload"),
        (document["gone"], "changed or removed meanwhile"),
    ]
    skipped = [f"{count} {reason}" for count, reason in reasons if count]
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def render_retried(document: Document) -> str:
    return (
        f"Retried {document['retried']} of {plural(document['matched'], 'matching record')}"
        f"{_skips(document)}."
    )


def render_removed(document: Document) -> str:
    return (
        f"Removed {document['removed']} of {plural(document['matched'], 'matching record')}"
        f"{_skips(document)}."
    )
