"""Find dead workers and recover their jobs, as Resque 3.0's ``prune_dead_workers``.

Only one process prunes at a time (Resque's ``pruning_dead_workers_in_progress``
lock, SET NX EX). A worker is dead when its heartbeat is too old: for our workers
by the Redis-clock epoch they keep in ``pyresque:heartbeat`` (a short threshold
is safe, they beat every few seconds); for anyone else (Ruby workers beat every
60 s) by Resque's own rule, older than ``ruby_stale_after`` (300 s by default).
Workers that never sent a heartbeat are left alone, as Ruby does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from resque_proto import timefmt
from resque_proto.keys import Keys
from resque_proto.recovery import Recovery, recover_worker
from resque_proto.text import text, texts
from resque_proto.workers import server_time

RUBY_PRUNE_INTERVAL = 300.0
PRUNE_LOCK_SECONDS = 60


@dataclass(frozen=True)
class PrunePolicy:
    ours_stale_after: float = 60.0
    ruby_stale_after: float = RUBY_PRUNE_INTERVAL
    redelivery_limit: int = 3
    lock_seconds: int = PRUNE_LOCK_SECONDS


def epoch_or_zero(value: bytes | str) -> float:
    """A stored epoch; anything unreadable counts as long ago (so it gets cleaned up)."""
    try:
        return float(value)
    except ValueError:
        return 0.0


def stale_workers(client: redis.Redis, keys: Keys, policy: PrunePolicy) -> list[str]:
    pipe = client.pipeline(transaction=False)
    pipe.smembers(keys.workers)
    pipe.hgetall(keys.heartbeats)
    pipe.hgetall(keys.our_heartbeats)
    registered, ruby_beats, our_beats = pipe.execute()
    now = server_time(client)
    ours = {str(text(k)): epoch_or_zero(v) for k, v in our_beats.items()}
    stale = [worker for worker, beat in ours.items() if now - beat > policy.ours_stale_after]
    for raw_id, raw_beat in ruby_beats.items():
        worker = text(raw_id)
        if worker in ours or worker not in set(texts(list(registered))):
            continue
        try:
            age = now - timefmt.parse_heartbeat(text(raw_beat) or "").timestamp()
        except ValueError:
            continue
        if age > policy.ruby_stale_after:
            stale.append(str(worker))
    return sorted(str(w) for w in stale)


class RedisUptime:
    """How long Redis has been up, for the pruner's guard (see ``prune_dead_workers``).

    ``INFO server`` knows, but INFO is ``@dangerous`` and Redis's own example ACL
    (``+@all -@dangerous``) refuses it. Without it we use the pruner's own
    observation: how long this process has seen Redis answer without a break
    (``outage()`` restarts the count; the worker calls it after every Redis error
    it sees). Why that keeps the guard's promise (no live worker judged dead): a
    live worker's heartbeat grows older than ``ours_stale_after`` only if Redis
    was out for most of that time; the pruner is a worker too, beating on the same
    schedule (and blocked on a subscription when idle), so it sees that outage
    and then waits a full ``ours_stale_after``, by which time every live worker has
    beaten again. A pruner that just started waits as long. The one case INFO
    covers and this does not: a restart the pruner never noticed that restored
    heartbeats much older than the outage (RDB snapshots without AOF); a job may
    then run twice (counted as a redelivery). With AOF (our images) restored
    heartbeats are at most a second old. A refused INFO is a permission, not an
    outage: it is said once in the log and postpones nothing else.
    """

    def __init__(self, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.log = log
        self.seen_up_since = time.monotonic()
        self.info_refused = False

    def outage(self) -> None:
        self.seen_up_since = time.monotonic()

    def seconds(self, client: redis.Redis) -> float:
        try:
            return float(client.info("server").get("uptime_in_seconds", 0))
        except redis.exceptions.NoPermissionError as error:
            if not self.info_refused:
                self.info_refused = True
                self.log.warning(
                    "Redis user may not run INFO: judging Redis's uptime from this "
                    "process's own view (pruning waits until Redis has answered without "
                    "a break for the prune threshold)",
                    extra={"error": str(error)},
                )
            return time.monotonic() - self.seen_up_since


def prune_dead_workers(
    client: redis.Redis,
    keys: Keys,
    pruner_id: str,
    policy: PrunePolicy | None = None,
    uptime: RedisUptime | None = None,
) -> list[Recovery]:
    """Recover every dead worker's jobs; [] when another process holds the lock.

    Nothing is judged while Redis itself has been up for less than
    ``ours_stale_after``: after a restart every heartbeat looks old until the
    workers have reconnected, and pruning then would re-run live workers' jobs.
    ``uptime`` tells Redis's uptime, with a fallback when INFO is refused (see
    :class:`RedisUptime`); without it ``INFO server`` is asked (refused: NoPermissionError).
    """
    policy = policy or PrunePolicy()
    if not client.set(keys.prune_lock, pruner_id, nx=True, ex=policy.lock_seconds):
        return []
    if uptime is not None:
        seconds = uptime.seconds(client)
    else:
        seconds = float(client.info("server").get("uptime_in_seconds", 0))
    if seconds < policy.ours_stale_after:
        return []
    return [
        recover_worker(
            client,
            keys,
            worker_id,
            requeue_limit=policy.redelivery_limit,
            unless_beat_within=policy.ours_stale_after,
        )
        for worker_id in stale_workers(client, keys, policy)
        if worker_id != pruner_id
    ]
