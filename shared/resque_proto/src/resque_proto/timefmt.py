"""Ruby Resque's time formats, field by field (see docs/protocol.md).

| field                      | clock             | example                        |
| ``worker:<id>`` run_at     | worker, UTC       | ``2026-11-27T18:40:32Z``       |
| ``worker:<id>:started``    | worker, local     | ``2026-11-27 18:40:32 +0000``  |
| ``workers:heartbeat``      | Redis TIME, local | ``2026-11-27T18:40:32+00:00``  |
| failure failed_at/retried_at | local, zone abbr | ``2026/11/27 18:40:32 UTC``   |
"""

from __future__ import annotations

from datetime import UTC, datetime


def _local(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone()


def run_at(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def started(moment: datetime | None = None) -> str:
    return _local(moment).strftime("%Y-%m-%d %H:%M:%S %z")


def heartbeat(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds)).astimezone().isoformat(timespec="seconds")


def failed_at(moment: datetime | None = None) -> str:
    return _local(moment).strftime("%Y/%m/%d %H:%M:%S %Z")


def parse_run_at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def parse_started(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")


def parse_heartbeat(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_failed_at(text: str) -> datetime:
    """Parse ``2026/11/27 18:40:32 UTC``; the zone abbreviation is read as local time
    unless it is UTC/GMT, since abbreviations like ``CET`` are ambiguous."""
    stamp, _, zone = text.rpartition(" ")
    naive = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S")
    if zone in {"UTC", "GMT", "Z"}:
        return naive.replace(tzinfo=UTC)
    return naive.astimezone()
