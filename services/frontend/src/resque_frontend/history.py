"""Processed/failed per minute over the last hour, kept in Redis for the chart.

Every overview render and every /metrics scrape records a snapshot of the two
global counters for the current minute (HSETNX: the first one of a minute wins,
so any number of replicas agree) and drops minutes older than an hour, in one
Lua call that also returns the whole (at most ~61-field) hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import redis

from resque_frontend import refusals
from resque_proto import Resque
from resque_proto.text import text

MINUTE = 60
KEEP_MINUTES = 60

RECORD_LUA = """
-- KEYS[1] history hash; ARGV: minute, "processed failed", oldest minute to keep
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local minute = tonumber(field)
  if not minute or minute < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], field) end
end
return redis.call('HGETALL', KEYS[1])
"""


@dataclass(frozen=True)
class Bar:
    minute: int  # epoch seconds at the start of the minute
    processed: float  # jobs per minute
    failed: float


def _snapshots(flat: list[bytes]) -> list[tuple[int, int, int]]:
    """``[(minute, processed, failed)]`` sorted by minute, from HGETALL's flat list."""
    rows = []
    for field, value in zip(flat[0::2], flat[1::2], strict=True):
        parts = (text(value) or "").split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            rows.append((int(text(field) or 0), int(parts[0]), int(parts[1])))
    return sorted(rows)


def bars(snapshots: list[tuple[int, int, int]]) -> list[Bar]:
    """Per-minute rates between consecutive snapshots; a counter reset gives no bar."""
    result = []
    for (m0, p0, f0), (m1, p1, f1) in pairwise(snapshots):
        minutes = (m1 - m0) / MINUTE
        if p1 < p0 or f1 < f0 or minutes <= 0:
            continue
        result.append(Bar(m1 - MINUTE, (p1 - p0) / minutes, (f1 - f0) / minutes))
    return result


def record(resque: Resque, processed: int, failed: int, now: float) -> list[Bar]:
    """Store this minute's snapshot and return the last hour's per-minute bars.

    A Redis that refuses the write (a read-only replica, or an ACL user without
    write or script rights) gives no history rather than an error page; an ACL
    refusal is logged once (refusals.py)."""
    minute = int(now // MINUTE * MINUTE)
    oldest = minute - KEEP_MINUTES * MINUTE
    script = resque.redis.register_script(RECORD_LUA)
    try:
        flat = script(keys=[resque.keys.throughput_history],
                      args=[minute, f"{processed} {failed}", oldest])  # fmt: skip
    except redis.exceptions.NoPermissionError as error:
        refusals.refused("EVALSHA", error)
        return []
    except redis.ResponseError:
        return []
    return bars(_snapshots(list(flat)))


@dataclass(frozen=True)
class Chart:
    """Geometry of the SVG bar chart (drawn by templates/chart.html)."""

    bars: list[Bar]
    start: int
    peak: float
    width: int = 600
    height: int = 120
    slot: float = 600 / KEEP_MINUTES

    def x(self, bar: Bar) -> float:
        return (bar.minute - self.start) / MINUTE * self.slot

    def h(self, value: float) -> float:
        return 0.0 if self.peak <= 0 else value / self.peak * self.height

    @property
    def total_processed(self) -> int:
        return round(sum(b.processed for b in self.bars))

    @property
    def total_failed(self) -> int:
        return round(sum(b.failed for b in self.bars))


def chart(history: list[Bar], now: float) -> Chart:
    start = int(now // MINUTE * MINUTE) - (KEEP_MINUTES - 1) * MINUTE
    shown = [b for b in history if b.minute >= start]
    peak = max((b.processed for b in shown), default=0.0)
    return Chart(bars=shown, start=start, peak=peak)
