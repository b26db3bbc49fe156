"""What one request writes to Redis, and writing it in one ``MULTI``/``EXEC``.

Jobs to run now are pushed as ``Resque.enqueue`` does; delayed jobs are filed
as resque-scheduler's ``delayed_push`` does (docs/protocol.md, section 8). A
batch may hold both, and both go in the same transaction, with every job's
status (``queued`` or ``scheduled``, docs/protocol.md, section 9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from resque_enqueuer.replication import Command, ReplicaWait, exec_errors, run_then_wait
from resque_proto.jobs import StatusWrite
from resque_proto.keys import Keys

Group = TypeVar("Group", str, int)


@dataclass
class Writes:
    """The payloads of one request, in request order."""

    ready: list[tuple[str, str]] = field(default_factory=list)  # (queue, payload)
    delayed: list[tuple[int, str]] = field(default_factory=list)  # (due second, payload)
    statuses: list[StatusWrite] = field(default_factory=list)  # empty when statuses are off

    def __len__(self) -> int:
        return len(self.ready) + len(self.delayed)

    def ready_by_queue(self) -> dict[str, list[str]]:
        return grouped(self.ready)

    def delayed_by_second(self) -> dict[int, list[str]]:
        return grouped(self.delayed)


def grouped(pairs: Iterable[tuple[Group, str]]) -> dict[Group, list[str]]:
    groups: dict[Group, list[str]] = {}
    for group, payload in pairs:
        groups.setdefault(group, []).append(payload)
    return groups


def write_all(
    client: redis.Redis,
    keys: Keys,
    writes: Writes,
    status_ttl: int = 0,
    wait: ReplicaWait | None = None,
) -> None:
    """Write everything in one transaction; with ``wait``, then ``WAIT`` for replicas."""
    commands = write_commands(keys, writes, status_ttl)
    if wait is not None:
        exec_errors(run_then_wait(client, [("MULTI",), *commands, ("EXEC",)], wait))
        return
    pipe: Any = client.pipeline(transaction=True)
    for command in commands:
        pipe.execute_command(*command)
    pipe.execute()


def write_commands(keys: Keys, writes: Writes, status_ttl: int = 0) -> list[Command]:
    commands: list[Command] = []
    queues = writes.ready_by_queue()
    if queues:
        commands.append(("SADD", keys.queues, *queues))
    for queue, payloads in queues.items():
        commands.append(("RPUSH", keys.queue(queue), *payloads))
    seconds = writes.delayed_by_second()
    for second, payloads in seconds.items():
        commands.append(("RPUSH", keys.delayed(second), *payloads))
        for payload in payloads:
            commands.append(("SADD", keys.delayed_timestamps(payload), f"delayed:{second}"))
    if seconds:
        pairs = [item for second in seconds for item in (second, str(second))]
        commands.append(("ZADD", keys.delayed_schedule, *pairs))
    if status_ttl > 0 and writes.statuses:
        commands.append(set_statuses(keys, writes.statuses, status_ttl))
    return commands


# One EVAL for all of a request's statuses rather than a SET each: a batch of 1,000
# jobs spent more time packing and parsing 1,000 commands than on anything else. EVAL,
# not EVALSHA: inside MULTI a NOSCRIPT could not be retried (Redis caches the script).
SET_STATUSES_LUA = """
local ttl = ARGV[1]
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ttl)
end
return #KEYS
"""


def set_statuses(keys: Keys, statuses: list[StatusWrite], ttl: int) -> Command:
    """``SET <status key> <body> EX <ttl>`` for each status, as one command."""
    status_keys = [keys.status(status.job_id) for status in statuses]
    bodies = [status.body for status in statuses]
    return ("EVAL", SET_STATUSES_LUA, len(status_keys), *status_keys, ttl, *bodies)
