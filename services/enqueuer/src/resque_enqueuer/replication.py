"""``ENQUEUER_MIN_REPLICAS``: answer 202 only once enough replicas have the jobs.

Redis replicates asynchronously: a job written to the primary and acknowledged
is lost if the primary dies before a replica received it (a Sentinel failover
then promotes a replica without it). With ``ENQUEUER_MIN_REPLICAS=N`` the
enqueuer sends ``WAIT N <timeout>`` right after the write, on the same
connection (``WAIT`` counts the replicas that acknowledged this connection's
writes), in the same round trip, and answers 202 only if at least ``N``
replicas did. Otherwise the answer is a 503 ``replication-timeout``: the jobs
are on the primary, maybe on no replica; a retry with the same
``Idempotency-Key`` cannot enqueue them twice (and waits for the replicas again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_enqueuer.problems import Problem

Command = tuple[Any, ...]


@dataclass(frozen=True)
class ReplicaWait:
    replicas: int
    timeout: float  # seconds
    retry_after: int = 1  # the 503's Retry-After

    @property
    def timeout_ms(self) -> int:
        return max(1, round(self.timeout * 1000))


def run_then_wait(client: redis.Redis, commands: Sequence[Command], wait: ReplicaWait) -> Any:
    """Send ``commands`` then ``WAIT`` on one connection, in one round trip.

    Returns the last command's reply; raises its error (or the first error among
    ``commands``), or a 503 :class:`Problem` when fewer replicas acknowledged
    than ``wait.replicas``.
    """
    pool = client.connection_pool
    connection: Any = pool.get_connection()
    try:
        argvs = [*commands, ("WAIT", wait.replicas, wait.timeout_ms)]
        connection.send_packed_command(connection.pack_commands(argvs))
        replies: list[Any] = []
        for _ in argvs:
            try:
                replies.append(connection.read_response())
            except redis.ResponseError as error:
                replies.append(error)
    except BaseException:
        connection.disconnect()  # a reply may be left unread: never reuse the socket
        raise
    finally:
        pool.release(connection)
    for reply in replies[:-1]:
        if isinstance(reply, Exception):
            raise reply
    acknowledged = replies[-1]
    if isinstance(acknowledged, Exception):
        raise acknowledged
    if int(acknowledged) < wait.replicas:
        raise not_replicated(int(acknowledged), wait)
    return replies[-2]


def exec_errors(reply: Any) -> None:
    """Raise the first error inside an ``EXEC`` reply (Redis does not roll back)."""
    if isinstance(reply, list):
        for item in reply:
            if isinstance(item, Exception):
                raise item


def not_replicated(acknowledged: int, wait: ReplicaWait) -> Problem:
    return Problem(
        503,
        "replication-timeout",
        f"the job store's primary has the job(s) but only {acknowledged} of the "
        f"{wait.replicas} replica(s) required (ENQUEUER_MIN_REPLICAS) confirmed them within "
        f"{wait.timeout:g}s: they may be on the primary only, and lost if it fails now; "
        "retrying with the same Idempotency-Key is safe (it cannot enqueue twice); "
        "without one, a retry may enqueue the job(s) again",
        headers={"Retry-After": str(wait.retry_after)},
        acknowledged_replicas=acknowledged,
        required_replicas=wait.replicas,
    )
