"""Redis commands the dashboard does without when its ACL user may not run them.

A ``+@read`` user may not run ``TIME``, ``INFO``, ``PING`` or the history's
script, and Redis's own example ACL (``+@all -@dangerous``) refuses ``INFO``;
none of them is worth an error page. Each fallback is said once per process in
the log, and ``/metrics`` reports ``resque_redis_command_refused`` for TIME and
INFO from a check of its own at every scrape (so every gunicorn worker and
replica reports the same).
"""

from __future__ import annotations

import logging

import redis
from prometheus_client.core import GaugeMetricFamily

from resque_proto import Resque

log = logging.getLogger("resque_frontend")

# The commands with a fallback, and what the dashboard does instead.
INSTEAD = {
    "TIME": "using this host's clock for ages and latencies",
    "INFO": "showing the stats page without Redis's INFO",
    "PING": "counting any answer from Redis as ready",
    "EVALSHA": "showing no throughput chart (its history is kept by a script)",
    "EVALSHA (delayed count)": "not counting delayed jobs (they are counted by a script)",
}
_said: set[str] = set()


def delayed_count(resque: Resque) -> int | None:
    """``Delayed.count`` (a Lua read), or None when the user may not run scripts."""
    try:
        return resque.delayed.count()
    except redis.exceptions.NoPermissionError as error:
        refused("EVALSHA (delayed count)", error)
        return None


def refused(command: str, error: redis.exceptions.NoPermissionError) -> None:
    """Log, once per process, that ``command`` was refused and what is done instead."""
    if command in _said:
        return
    _said.add(command)
    log.warning(
        f"Redis user may not run {command}: {INSTEAD[command]}; see docs/redis.md",
        extra={"error": str(error)},
    )


def refused_now(client: redis.Redis) -> dict[str, bool]:
    """Which fallback commands the user may not run: ``TIME`` and ``INFO server``, one
    round trip (both are cheap and change nothing)."""
    pipe = client.pipeline(transaction=False)
    pipe.time()
    pipe.info("server")
    replies = pipe.execute(raise_on_error=False)
    for reply in replies:
        if isinstance(reply, Exception) and not isinstance(
            reply, redis.exceptions.NoPermissionError
        ):
            raise reply
    return {
        name: isinstance(reply, redis.exceptions.NoPermissionError)
        for name, reply in zip(("TIME", "INFO"), replies, strict=True)
    }


def family(refusals: dict[str, bool]) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(
        "resque_redis_command_refused",
        "1 when the Redis ACL user may not run the command and the dashboard does without "
        "it (TIME: this host's clock; INFO: no Redis section on the stats page).",
        labels=["command"],
    )
    for name, refused_ in sorted(refusals.items()):
        metric.add_metric([name], 1 if refused_ else 0)
    return metric
