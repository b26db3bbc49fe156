"""Resque's ``failed`` list: create, count, page, retry, remove, clear.

Records are addressed by their exact bytes (plus an index hint), checked inside
Lua, so an action never hits a different record after a concurrent change of
the list. Retrying keeps the record and sets ``retried_at``, as resque-web does.

Ruby's ``redis_multi_queue`` backend keeps one list per job queue instead,
``<queue>_failed``, named in the ``failed_queues`` set (docs/protocol.md,
section 5): ``in_list`` gives the same operations on such a list, and the
queue-scoped actions cover both layouts. We never add records to those lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto.errors import FailureMoved
from resque_proto.keys import Keys
from resque_proto.payload import decode_json, encode_json
from resque_proto.records import Failure, failure_record, mark_retried
from resque_proto.text import text, texts

RETRY_LUA = """
-- KEYS: failed, queues, queue:<q>; ARGV: index hint, record, retried record, queue, payload
local index = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], index) ~= ARGV[2] then
  index = redis.call('LPOS', KEYS[1], ARGV[2])
  if not index then return -1 end
end
redis.call('LSET', KEYS[1], index, ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[5])
return index
"""


CLEAR_RETRIED_LUA = """
-- KEYS[1] failed. Drops every record whose last key is retried_at (Ruby's retry and
-- mark_retried append it last), in one O(N) pass instead of one LREM per record.
local records = redis.call('LRANGE', KEYS[1], 0, -1)
local keep = {}
for _, raw in ipairs(records) do
  if not string.find(raw, ',"retried_at":"[^"]*"}$') then keep[#keep + 1] = raw end
end
local removed = #records - #keep
if removed > 0 then
  redis.call('DEL', KEYS[1])
  for i = 1, #keep, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 999, #keep)))
  end
end
return removed
"""
REMOVE_QUEUE_LUA = """
-- KEYS: failed, <queue>_failed; ARGV[1] queue. Drops the records of ARGV[1] from the
-- failed list (a record that is not JSON is kept) and the whole per-queue list.
local removed = redis.call('LLEN', KEYS[2])
redis.call('DEL', KEYS[2])
local records = redis.call('LRANGE', KEYS[1], 0, -1)
local keep = {}
for _, raw in ipairs(records) do
  local ok, body = pcall(cjson.decode, raw)
  if not (ok and type(body) == 'table' and body['queue'] == ARGV[1]) then keep[#keep + 1] = raw end
end
if #keep < #records then
  removed = removed + #records - #keep
  redis.call('DEL', KEYS[1])
  for i = 1, #keep, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(keep, i, math.min(i + 999, #keep)))
  end
end
return removed
"""
RETRY_BATCH = 500
PLAIN_LIST = "failed"
FAILED_QUEUES = "failed_queues"
FAILURE_QUEUE_SUFFIX = "_failed"


def failure_queue_name(queue: str) -> str:
    """Ruby's ``Failure.failure_queue_name``: the multi-queue list of a job queue."""
    return queue + FAILURE_QUEUE_SUFFIX


def job_queue_name(failure_queue: str) -> str:
    """Ruby's ``Failure.job_queue_name``: the job queue of a multi-queue list."""
    return failure_queue.removesuffix(FAILURE_QUEUE_SUFFIX)


def list_key(keys: Keys, name: str) -> str:
    """The key of failure list ``name`` (``failed``, or a ``<queue>_failed`` of Ruby's
    multi-queue backend, which spells them as bare names under the namespace)."""
    return f"{keys.namespace}:{name}"


@dataclass(frozen=True)
class RetryOutcome:
    """What ``Failures.retry_matching`` did with the records its filter selected."""

    matched: int = 0  # records the filter selected
    retried: int = 0  # jobs put back on their queues
    already_retried: int = 0  # skipped: the record has ``retried_at``
    unretryable: int = 0  # skipped: no queue or payload to retry
    gone: int = 0  # removed or changed by someone else since the list was read

    def __add__(self, other: RetryOutcome) -> RetryOutcome:
        return RetryOutcome(
            self.matched + other.matched,
            self.retried + other.retried,
            self.already_retried + other.already_retried,
            self.unretryable + other.unretryable,
            self.gone + other.gone,
        )


class Failures:
    """One failure list: ``failed`` by default, or a multi-queue list (``in_list``)."""

    def __init__(self, client: redis.Redis, keys: Keys, name: str = PLAIN_LIST) -> None:
        self.redis = client
        self.keys = keys
        self.name = name
        self.key = list_key(keys, name)
        self._retry = client.register_script(RETRY_LUA)
        self._clear_retried = client.register_script(CLEAR_RETRIED_LUA)
        self._remove_queue = client.register_script(REMOVE_QUEUE_LUA)

    def in_list(self, name: str) -> Failures:
        """The same operations on failure list ``name`` (``failed`` or ``<queue>_failed``)."""
        return Failures(self.redis, self.keys, name)

    def for_queue(self, queue: str) -> Failures:
        """The multi-queue backend's list of ``queue``, ``<queue>_failed``."""
        return self.in_list(failure_queue_name(queue))

    def failure_queues(self) -> dict[str, int]:
        """Multi-queue list name -> records, for every member of ``failed_queues``, sorted
        by name; empty when no Ruby worker used that backend. Two round trips."""
        names = sorted(texts(self.redis.smembers(list_key(self.keys, FAILED_QUEUES))))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(list_key(self.keys, name))
        return {name: int(size) for name, size in zip(names, pipe.execute(), strict=True)}

    def is_list(self, name: str) -> bool:
        """Whether ``name`` is ``failed`` or a member of ``failed_queues``: the check
        before acting on a list named by a user (never an arbitrary key)."""
        return name == PLAIN_LIST or bool(
            self.redis.sismember(list_key(self.keys, FAILED_QUEUES), name)
        )

    def list_names(self) -> list[str]:
        """``failed`` and every multi-queue list: the names ``in_list`` takes."""
        return [PLAIN_LIST, *self.failure_queues()]

    def create(
        self,
        *,
        payload: Any,
        exception: str,
        error: str,
        backtrace: Sequence[str],
        worker: str,
        queue: str,
    ) -> str:
        """Append a record and count it (``stat:failed``, global and per worker).
        Our workers write only the ``failed`` list."""
        if self.name != PLAIN_LIST:
            raise ValueError("failure records are only created in the failed list")
        record = failure_record(
            payload=payload,
            exception=exception,
            error=error,
            backtrace=backtrace,
            worker=worker,
            queue=queue,
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.key, record)
        pipe.incr(self.keys.stat("failed"))
        pipe.incr(self.keys.stat("failed", worker))
        pipe.execute()
        return record

    def count(self) -> int:
        return int(self.redis.llen(self.key))

    def page(self, start: int = 0, count: int = 20) -> list[Failure]:
        """Records ``start`` .. ``start+count-1`` in list order (oldest first)."""
        raw = self.redis.lrange(self.key, start, start + count - 1)
        return [Failure.decode(start + i, item) for i, item in enumerate(texts(raw))]

    def newest(self, start: int = 0, count: int = 20) -> list[Failure]:
        """The ``start``-th .. newest records, newest first (negative list indexes, so
        records appended meanwhile do not shift the page)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.key)
        pipe.lrange(self.key, -(start + count), -start - 1)
        size, found = pipe.execute()
        raw = texts(found)
        first = int(size) - start - len(raw)
        return [Failure.decode(first + i, item) for i, item in enumerate(raw)][::-1]

    def all(self) -> list[Failure]:
        raw = self.redis.lrange(self.key, 0, -1)
        return [Failure.decode(i, item) for i, item in enumerate(texts(raw))]

    def get(self, index: int) -> Failure | None:
        raw = text(self.redis.lindex(self.key, index))
        return None if raw is None else Failure.decode(index, raw)

    def _retry_call(self, index: int, raw: str) -> tuple[list[str], list[str | int]]:
        """Keys and args of RETRY_LUA for one record; ValueError if it cannot be retried."""
        body = decode_json(raw)
        queue, payload = body.get("queue"), body.get("payload")
        if not isinstance(queue, str) or not isinstance(payload, dict):
            raise ValueError("failure record has no queue or payload to retry")
        keys = [self.key, self.keys.queues, self.keys.queue(queue)]
        return keys, [index, raw, mark_retried(raw), queue, encode_json(payload)]

    def retry(self, index: int, raw: str) -> int:
        """Push the failed job back on its queue; the record stays, with ``retried_at``."""
        keys, args = self._retry_call(index, raw)
        found = int(self._retry(keys=keys, args=args))
        if found < 0:
            raise FailureMoved("that failure record is no longer in the list")
        return found

    def remove(self, raw: str) -> None:
        if int(self.redis.lrem(self.key, 1, raw)) == 0:
            raise FailureMoved("that failure record is no longer in the list")

    def clear(self) -> int:
        """Delete every record; returns how many there were."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.key)
        pipe.delete(self.key)
        return int(pipe.execute()[0])

    def retry_all(self, where: Callable[[Failure], bool] | None = None) -> int:
        """Retry every record ``where`` selects (default: all) that was not retried yet;
        returns how many jobs went back on their queues (``retry_matching`` counts the
        rest)."""
        return self.retry_matching(where).retried

    def retry_matching(self, where: Callable[[Failure], bool] | None = None) -> RetryOutcome:
        """Retry the records ``where`` selects, skipping those with ``retried_at`` (their
        job went back once already: again would run it twice).

        One read of the list, then the same atomic script as ``retry`` per record,
        pipelined ``RETRY_BATCH`` at a time: 100,000 records take hundreds of round
        trips, not 100,000. The script acts only on a record with exactly the bytes
        read here, so a record retried (new bytes), removed or cleared meanwhile is
        counted ``gone`` and never retried twice.
        """
        matched = already_retried = unretryable = sent = retried = 0
        batch: list[tuple[list[str], list[str | int]]] = []
        for failure in self.all():
            if where is not None and not where(failure):
                continue
            matched += 1
            if failure.retried_at is not None:
                already_retried += 1
                continue
            try:
                batch.append(self._retry_call(failure.index, failure.raw))
            except ValueError:
                unretryable += 1
            if len(batch) == RETRY_BATCH:
                sent, retried = sent + len(batch), retried + self._retry_batch(batch)
                batch = []
        sent, retried = sent + len(batch), retried + self._retry_batch(batch)
        gone = sent - retried
        return RetryOutcome(matched, retried, already_retried, unretryable, gone)

    def _retry_batch(self, calls: list[tuple[list[str], list[str | int]]]) -> int:
        """Run RETRY_LUA for every call in one pipeline; how many found their record."""
        if not calls:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            self._retry(keys=keys, args=args, client=pipe)
        return sum(1 for found in pipe.execute() if int(found) >= 0)

    def requeue_queue(self, queue: str) -> RetryOutcome:
        """Resque's ``Failure.requeue_queue``: retry the failures of job queue ``queue``,
        the ``failed`` records whose queue it is and its multi-queue list, skipping
        records already retried."""
        plain = self.in_list(PLAIN_LIST).retry_matching(lambda failure: failure.queue == queue)
        return plain + self.for_queue(queue).retry_matching()

    def remove_queue(self, queue: str) -> int:
        """Resque's ``Failure.remove_queue``: delete the failures of job queue ``queue``
        from both layouts in one atomic script; returns how many."""
        keys = [list_key(self.keys, PLAIN_LIST), self.for_queue(queue).key]
        return int(self._remove_queue(keys=keys, args=[queue]))

    def clear_retried(self) -> int:
        """Delete every retried record (one server-side pass); returns how many."""
        return int(self._clear_retried(keys=[self.key]))
