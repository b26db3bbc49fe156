"""Recover what a worker held when it stopped, exactly once.

Runs as one optimistic transaction (WATCH the worker's in-flight list and
``worker:<id>``, read, MULTI, write, EXEC): if a racing pruner or the worker
itself changes either key first, EXEC fails and we read again, finding nothing
left to do. Each in-flight job goes back to the front of its queue with its
redelivery count raised; past the limit it becomes a failure record instead,
so a job that keeps killing workers cannot loop forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from resque_proto.jobs import Reserved
from resque_proto.keys import Keys
from resque_proto.payload import decode_json, encode_json
from resque_proto.records import PRUNED_DIRTY_EXIT, failure_record, payload_for_record
from resque_proto.text import text, texts
from resque_proto.workers import Workers


@dataclass
class Recovery:
    worker_id: str
    requeued: list[Reserved] = field(default_factory=list)
    failed: list[Reserved] = field(default_factory=list)


def _class_of(payload: str) -> str:
    body = payload_for_record(payload)
    return str(body.get("class")) if isinstance(body, dict) else "?"


def dead_worker_failure(worker_id: str, job: Reserved, detail: str = "") -> str:
    return failure_record(
        payload=payload_for_record(job.payload),
        exception=PRUNED_DIRTY_EXIT,
        error=f"Worker {worker_id} did not gracefully exit while processing "
        f"{_class_of(job.payload)}{detail}",
        backtrace=[],
        worker=worker_id,
        queue=job.queue,
    )


def recover_worker(
    client: redis.Redis,
    keys: Keys,
    worker_id: str,
    requeue_limit: int | None,
    unless_beat_within: float | None = None,
) -> Recovery:
    """Requeue (or fail) a worker's in-flight jobs and unregister it.

    ``requeue_limit=None`` is a graceful unregister: jobs go back uncounted.
    Otherwise the worker is dead: each job's redelivery count goes up by one and a
    job already redelivered ``requeue_limit`` times becomes a failure record.

    With ``unless_beat_within`` the worker's heartbeat is read again inside the
    transaction (the heartbeat hash is watched too): a worker that has beaten within
    that many seconds is alive after all, and nothing is done.
    """
    inflight, working = keys.inflight(worker_id), keys.worker(worker_id)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                watched = [inflight, working]
                if unless_beat_within is not None:
                    watched.append(keys.our_heartbeats)
                pipe.watch(*watched)  # type: ignore[no-untyped-call]
                if unless_beat_within is not None and _beat_recently(
                    pipe, keys, worker_id, unless_beat_within
                ):
                    pipe.reset()
                    return Recovery(worker_id)
                jobs = [Reserved.from_entry(e) for e in texts(pipe.lrange(inflight, 0, -1))]
                counts = pipe.hmget(keys.redeliveries, [j.payload for j in jobs]) if jobs else []
                current = text(pipe.get(working))
                pipe.multi()
                result = _queue_recovery(pipe, keys, worker_id, jobs, counts, requeue_limit)
                if not jobs and current and requeue_limit is not None:
                    _fail_ruby_job(pipe, keys, worker_id, current, result)
                Workers(client, keys).cleanup_commands(pipe, worker_id)
                pipe.delete(inflight)
                pipe.execute()
                return result
            except redis.WatchError:
                continue


def _beat_recently(pipe: redis.client.Pipeline, keys: Keys, worker_id: str, within: float) -> bool:
    beat = pipe.hget(keys.our_heartbeats, worker_id)
    if beat is None:
        return False
    seconds, micros = pipe.time()
    try:
        return float(seconds) + float(micros) / 1e6 - float(beat) <= within
    except ValueError:
        return False


def _queue_recovery(
    pipe: redis.client.Pipeline,
    keys: Keys,
    worker_id: str,
    jobs: list[Reserved],
    counts: list[bytes | str | None],
    requeue_limit: int | None,
) -> Recovery:
    result = Recovery(worker_id)
    for job, count in reversed(list(zip(jobs, counts, strict=True))):
        redeliveries = int(count or 0) + 1
        if requeue_limit is not None and redeliveries > requeue_limit:
            detail = f" (redelivered {redeliveries - 1} times, limit {requeue_limit})"
            pipe.rpush(keys.failed, dead_worker_failure(worker_id, job, detail))
            pipe.incr(keys.stat("failed"))
            pipe.hdel(keys.redeliveries, job.payload)
            result.failed.insert(0, job)
            continue
        pipe.lpush(keys.queue(job.queue), job.payload)
        if requeue_limit is not None:
            pipe.hincrby(keys.redeliveries, job.payload, 1)
        result.requeued.insert(0, job)
    return result


def _fail_ruby_job(
    pipe: redis.client.Pipeline, keys: Keys, worker_id: str, current: str, result: Recovery
) -> None:
    """A dead worker with a job but no in-flight list (a Ruby worker): fail it, as Ruby does."""
    try:
        body = decode_json(current)
    except ValueError:
        return
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        return
    job = Reserved(queue=str(body.get("queue")), payload=encode_json(body["payload"]))
    pipe.rpush(keys.failed, dead_worker_failure(worker_id, job))
    pipe.incr(keys.stat("failed"))
    result.failed.append(job)
