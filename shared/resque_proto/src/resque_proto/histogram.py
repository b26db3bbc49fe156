"""Job-duration histogram buckets, shared by workers (writers) and the frontend.

Workers add one observation per finished job into a hash per queue: one field
per bucket (observations with duration <= bound, non-cumulative: the smallest
bucket that fits), plus ``sum`` and ``count``. The frontend accumulates the
buckets into Prometheus's cumulative ``le`` form at scrape time.
"""

from __future__ import annotations

from collections.abc import Mapping

BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
INF = "+Inf"


def bucket_field(duration: float) -> str:
    for bound in BUCKETS:
        if duration <= bound:
            return repr(bound)
    return INF


def cumulative(
    fields: Mapping[bytes | str, bytes | str],
) -> tuple[list[tuple[str, int]], float, int]:
    """(``[(le, cumulative count)...]`` ending with +Inf, sum, count) from a stored hash."""
    values = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    running = 0
    buckets: list[tuple[str, int]] = []
    for bound in BUCKETS:
        running += int(values.get(repr(bound), 0))
        buckets.append((repr(bound), running))
    running += int(values.get(INF, 0))
    buckets.append((INF, running))
    return buckets, float(values.get("sum", 0.0)), int(values.get("count", running))
