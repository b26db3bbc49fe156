"""Printing: one JSON document, or a plain-text table, of the same data.

Every command builds a JSON-ready document and a function that renders it as
text, so the two forms can never disagree. Strings read from Redis may hold
surrogate-escaped bytes that are not UTF-8; they are printed as ``\\udcXX``
escapes (valid in JSON) instead of failing the command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from resque_cli.state import CliState

Document = dict[str, Any]


def emit(state: CliState, document: Document, render: Callable[[Document], str]) -> None:
    """Print ``document`` as JSON (``--json``) or as ``render(document)``."""
    printed = json.dumps(document, ensure_ascii=False, indent=2) if state.json else render(document)
    click.echo(printed.encode("utf-8", "backslashreplace"))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, two spaces apart; ``None`` shows as ``-``."""
    cells = [list(headers), *([cell_text(cell) for cell in row] for row in rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def cell_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())


def shortened(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def utc_time(epoch_seconds: float) -> str:
    """``2027-01-01T09:00:00Z``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """``42s``, ``5m 02s``, ``3h 07m``, ``2d 04h``: the two largest units."""
    whole = max(0, int(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
