"""The worker parent: reserve a job, fork a child for it, settle it; stay lean.

Per job the parent makes one Redis round trip: the ack of the job it just ran
(``finish``: counts it, records the duration and any failure record) and the
reserve of the next one (atomically into this worker's in-flight list) go in one
Lua call. A nack (``requeue``), an ack while paused or stopping, and the first
ack after an outage go alone. Everything else is on timers: heartbeat, dead-
worker pruning, re-resolving wildcard queues, the ``pause-all-workers`` flag.
The parent is single-threaded (fork and threads do not mix); signals only set
flags that the loop reads.

When Redis is unreachable the loop backs off (capped, jittered) and retries;
a finished job's outcome is kept in memory (``pending``) and settled once Redis
answers again. Both settle operations are idempotent, so a retry after a reply
lost in transit does nothing twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import redis

from resque_proto import PrunePolicy, QueueWaiter, Reserved, Resque, connect
from resque_proto import job_hooks as hooks
from resque_proto.backoff import Backoff
from resque_proto.delayed_payload import due_timestamp
from resque_proto.errors import MalformedPayload, ValidationError
from resque_proto.health import HealthFile
from resque_proto.jobs import JOB_ID_KEY, RetryLater, StatusWrite
from resque_proto.payload import Job, decode_json, decode_payload
from resque_proto.prune import RedisUptime, prune_dead_workers
from resque_proto.queue_patterns import is_dynamic, resolve_queues
from resque_proto.records import failure_record, payload_for_record
from resque_proto.recovery import recover_worker
from resque_proto.retry import RetryPolicy, attempt_of, class_policy, job_policy, retry_payload
from resque_proto.status import FAILED, SCHEDULED, SUCCEEDED
from resque_proto.workers import make_worker_id
from resque_worker.config import Config
from resque_worker.errors import DirtyExit, UnknownJobClass
from resque_worker.failure_notifiers import FailureNotifiers
from resque_worker.outcome import Outcome
from resque_worker.proctitle import ProcTitle
from resque_worker.registry import JobRegistry
from resque_worker.signals import SignalFlags
from resque_worker.supervisor import judge
from resque_worker.worker_hooks import HookedChildWatch, WorkerHooks
from resque_worker.zygote_client import ForkFailed, ZygoteClient

log = logging.getLogger("resque_worker")

IDLE_WAIT = 0.5  # longest blocking wait: bounds how late a shutdown signal is noticed
CACHE_SECONDS = 1.0  # wildcard queue list and pause-all-workers flag are re-read this often
SHUTDOWN_RETRY_SECONDS = 10.0  # how long a stopping worker retries Redis before giving up


@dataclass
class Settlement:
    """What must still be written for a job the worker ran: an ack or a nack."""

    reserved: Reserved
    duration: float
    failure: str | None = None
    requeue: bool = False
    attempts: int = 0  # of writing this settlement (not of running the job)
    status: StatusWrite | None = None
    retry: RetryLater | None = None


def job_fields(job: Job | None) -> dict[str, Any]:
    """``class`` and ``job_id`` for a job's log lines, where known (a payload that is not
    a job has neither; one from a Ruby producer has no id)."""
    if job is None:
        return {}
    job_id = job.extras.get(JOB_ID_KEY)
    return {"class": job.class_name, **({"job_id": job_id} if job_id is not None else {})}


def payload_fields(payload: str) -> dict[str, Any]:
    """``job_fields`` of a raw payload (decoded again: for rare lines only)."""
    try:
        return job_fields(decode_payload(payload))
    except MalformedPayload:
        return {}


class WorkerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the worker id to every line, keeping the call's own ``extra`` fields."""

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[object, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class Worker:
    def __init__(
        self, config: Config, registry: JobRegistry, zygote: ZygoteClient | None = None
    ) -> None:
        self.config = config
        self.registry = registry
        self.zygote = zygote  # forks the job children; None only in in-process mode
        self.flags = SignalFlags(config.graceful_term)
        self.title = ProcTitle(config.procline_prefix)
        self.health = HealthFile(config.health_file)
        self.resque = Resque(
            connect(config.redis or config.redis_url, socket_timeout=5.0),
            config.namespace,
            config.status_ttl,
        )
        self.id = make_worker_id(config.queues, os.getpid())
        self.policy = PrunePolicy(
            ours_stale_after=config.prune_after,
            lock_seconds=max(1, round(config.prune_interval)),
            redelivery_limit=config.max_redeliveries,
        )
        self.backoff = Backoff()
        self.waiter: QueueWaiter | None = None
        self.pending: Settlement | None = None
        self.registered = False
        self.redis_down_since: float | None = None
        self.next_heartbeat_at = 0.0
        self.next_prune_at = 0.0
        self.static_queues = None if is_dynamic(config.queues) else list(config.queues)
        self.queue_cache: tuple[float, list[str]] = (float("-inf"), [])
        self.pause_cache: tuple[float, bool] = (float("-inf"), False)
        self.was_paused = False
        self.log = WorkerLog(log, {"worker": self.id})
        self.worker_hooks = WorkerHooks(registry, self.flags, self.log)
        self.notifiers = FailureNotifiers.from_env()
        self.redis_uptime = RedisUptime(self.log)

    # -- the loop --------------------------------------------------------
    def run(self) -> int:
        self.flags.install()
        self.title.set("Starting")
        self.log.info("worker starting", extra={"queues": list(self.config.queues)})
        try:
            self.loop()
        except Exception:
            # A bug, not bad data: leave the in-flight job to the pruner, which counts
            # redeliveries, so a job that crashes workers cannot loop forever.
            self.log.critical("worker crashed", exc_info=True)
            status = 1
        else:
            self.shut_down()
            status = 0
        self.worker_hooks.run("worker_exit")
        return status

    def loop(self) -> None:
        while not self.flags.shutdown:
            try:
                if not self.step():
                    return
                self.redis_up()
            except redis.RedisError as error:
                self.redis_down(error)

    def step(self) -> bool:
        """One turn of the loop; False when a burst worker has nothing left to do."""
        self.worker_hooks.after_signals(self)
        if self.redis_down_since is not None:
            self.settle()  # alone and first: redis_up() requeues what else is in flight
        self.housekeeping()
        self.flags.take_stop_job()  # USR1 while idle stops nothing (as in Resque)
        if self.flags.shutdown:  # TERM/QUIT arrived during housekeeping: take nothing new
            return True  # shut_down() settles
        if self.paused():
            self.settle()
            self.worker_hooks.no_job()  # as Resque: pausing after a job counts too
            if self.config.burst:
                return False
            self.title.paused()
            self.health.touch()
            self.flags.sleep(IDLE_WAIT)
            return True
        queues = self.queues()
        reserved = self.settle_and_reserve(queues)
        if reserved is None:
            self.worker_hooks.no_job()
            if self.config.burst:
                return False
            self.idle(queues)
            return True
        self.process(reserved)
        return True

    def idle(self, queues: list[str]) -> None:
        self.title.waiting(queues)
        self.health.touch()
        if self.waiter is None:
            self.waiter = self.resque.waiter(fallback_poll=min(0.1, self.config.interval))
        if self.waiter.wait(min(IDLE_WAIT, self.config.interval)):
            self.queue_cache = (float("-inf"), [])  # a push may be to a queue new to a wildcard

    # -- one job ---------------------------------------------------------
    def process(self, reserved: Reserved) -> None:
        started = time.monotonic()
        self.worker_hooks.job_started()
        job: Job | None = None
        job_class: type | None = None
        try:
            job = decode_payload(reserved.payload)
            job_class = self.registry.lookup(job.class_name)
        except (MalformedPayload, UnknownJobClass) as error:
            outcome: Outcome | None = Outcome.failed(type(error).__name__, str(error))
        else:
            title = self.title.processing(reserved.queue, job.class_name, int(time.time()))
            outcome = self.execute(reserved, job, job_class, title)
        duration = time.monotonic() - started
        self.pending = self.settlement(reserved, duration, outcome, job, job_class)
        # settled with the next reserve (settle_and_reserve), or alone by shut_down()

    def settlement(
        self,
        reserved: Reserved,
        duration: float,
        outcome: Outcome | None,
        job: Job | None = None,
        job_class: type | None = None,
    ) -> Settlement:
        fields = {"queue": reserved.queue, "duration": round(duration, 6), **job_fields(job)}
        if outcome is None:
            self.log.info("job interrupted by shutdown, requeued", extra=fields)
            return Settlement(reserved, duration, requeue=True)
        attempt = attempt_of(job) if job else 1
        if outcome.ok:
            self.log.info("job done", extra=fields)
            status = self.status(reserved, job, SUCCEEDED, duration=round(duration, 6))
            return Settlement(reserved, duration, status=status)
        policy = self.retry_policy(job, job_class) if job and job_class else None
        if job and policy and policy.retries(outcome.names, attempt):
            return self.retry_later(reserved, duration, outcome, job, policy, attempt)
        self.log.warning(
            "job failed",
            extra={**fields, "exception": outcome.exception, "error": outcome.error[:500]},
        )
        record = failure_record(
            payload=payload_for_record(reserved.payload),
            exception=outcome.exception,
            error=outcome.record_error(reserved.queue, job),
            backtrace=outcome.backtrace,
            worker=self.id,
            queue=reserved.queue,
            attempts=attempt if policy and policy.limit else None,
        )
        status = self.status(reserved, job, FAILED, failure=decode_json(record))
        return Settlement(reserved, duration, failure=record, status=status)

    def retry_policy(self, job: Job, job_class: type) -> RetryPolicy:
        """The job's own policy, else its class's, else the worker's default."""
        try:
            declared = class_policy(job_class)
        except ValidationError as error:
            self.log.error("ignoring an invalid retry policy", extra={"error": str(error)})
            declared = None
        return job_policy(job) or declared or self.config.retry_policy

    def retry_later(
        self,
        reserved: Reserved,
        duration: float,
        outcome: Outcome,
        job: Job,
        policy: RetryPolicy,
        attempt: int,
    ) -> Settlement:
        delay = policy.delay_for(attempt)
        due = due_timestamp(time.time() + delay)
        self.log.warning(
            "job failed; retrying",
            extra={
                "queue": reserved.queue, **job_fields(job), "exception": outcome.exception,
                "error": outcome.error[:500], "attempt": attempt, "retry_in": round(delay, 3),
            },
        )  # fmt: skip
        payload = retry_payload(job, reserved.queue, attempt + 1)
        status = self.status(reserved, job, SCHEDULED, scheduled_for=due, attempt=attempt + 1)
        return Settlement(reserved, duration, status=status, retry=RetryLater(due, payload))

    def status(
        self, reserved: Reserved, job: Job | None, state: str, **fields: Any
    ) -> StatusWrite | None:
        if job is None:  # a payload that is not a job has no id to key a status by
            return None
        return self.resque.jobs.status_for(job, reserved.queue, state, **fields)

    def execute(self, reserved: Reserved, job: Job, job_class: type, title: str) -> Outcome | None:
        """Run the job in a child forked by the zygote; None means "put it back" (shutdown).

        ``before_fork`` runs here, in the worker process, as in Resque; the child is
        forked by the zygote, so what the hook changes in this process does not
        reach the child (``after_fork`` runs in the child).
        """
        if self.zygote is None:
            raise RuntimeError("a forking worker needs a fork server (zygote)")
        try:
            self.registry.run_hooks("before_fork", job)
        except Exception as error:
            return Outcome.from_exception(error)
        try:
            pid = self.zygote.start(
                reserved.payload, title, self.config.term_child, self.config.run_at_exit_hooks
            )
        except ForkFailed as error:  # out of memory or processes: the job never ran
            self.log.error(
                "cannot fork; putting the job back", extra={**job_fields(job), "error": str(error)}
            )
            self.flags.sleep(self.backoff.next_delay())
            return None
        self.title.forked(pid, int(time.time()))
        watch = HookedChildWatch(
            pid, self.zygote, self.flags, self.config, self.heartbeat_quietly, self.next_heartbeat,
            hooks=self.worker_hooks, worker=self,
        )  # fmt: skip
        result = watch.wait()
        outcome = judge(result, self.config)
        if outcome is not None and not outcome.ok and outcome is not result.reported:
            outcome = self.run_failure_hooks(job_class, job, outcome)
        return outcome

    def run_failure_hooks(self, job_class: type, job: Job, outcome: Outcome) -> Outcome:
        """Resque runs ``on_failure*`` hooks in the parent for failures only it can see;
        a hook's error is recorded beside the original (``Outcome.record_error``)."""
        error = DirtyExit(outcome.error)
        hooks.run_failure_hooks(job_class, error, job.args)
        hook_error = hooks.failure_hook_error(error)
        return outcome if hook_error is None else outcome.with_hook_error(hook_error)

    def settle(self) -> None:
        """Write the pending ack/nack; raises a RedisError (kept for a retry) if Redis is away."""
        pending = self.pending
        if pending is None:
            return
        pending.attempts += 1
        if pending.requeue:
            done = self.resque.jobs.requeue(self.id, pending.reserved)
        else:
            done = self.resque.jobs.finish(
                self.id,
                pending.reserved,
                pending.duration,
                pending.failure,
                status=pending.status,
                retry=pending.retry,
            )
        self.settled(pending, done)

    def settle_and_reserve(self, queues: list[str]) -> Reserved | None:
        """Write the pending ack and reserve the next job in one round trip (a nack or
        no pending settlement: ``settle`` then ``reserve``)."""
        pending = self.pending
        if pending is None or pending.requeue:
            self.settle()
            return self.resque.jobs.reserve(self.id, queues)
        pending.attempts += 1
        done, reserved = self.resque.jobs.finish_then_reserve(
            self.id,
            pending.reserved,
            pending.duration,
            pending.failure,
            status=pending.status,
            retry=pending.retry,
            queues=queues,
        )
        self.settled(pending, done)
        return reserved

    def settled(self, pending: Settlement, done: bool) -> None:
        """After an ack or nack was written: notify a failure, warn of a lost hold."""
        self.pending = None
        if done and pending.failure:
            self.notifiers.notify(pending.failure)
        if not done and pending.attempts == 1:
            self.log.warning(
                "job was no longer held by this worker (recovered by a pruner?)",
                extra={"queue": pending.reserved.queue, **payload_fields(pending.reserved.payload)},
            )

    # -- timers: registration, heartbeat, pruning ------------------------
    def housekeeping(self) -> None:
        now = time.monotonic()
        if not self.registered:
            self.recover_previous_life()
            self.resque.workers.register(self.id)
            self.registered = True
            self.next_heartbeat_at = now + self.config.heartbeat_interval
            self.log.info("worker registered")
        if now >= self.next_heartbeat_at:
            self.heartbeat()
        if now >= self.next_prune_at:
            self.prune()

    def next_heartbeat(self) -> float:
        return self.next_heartbeat_at

    def heartbeat(self) -> None:
        self.next_heartbeat_at = time.monotonic() + self.config.heartbeat_interval
        self.health.touch()
        self.resque.workers.heartbeat(self.id)
        if not self.resque.redis.sismember(self.resque.keys.workers, self.id):
            self.log.warning("worker was missing from the workers set; registering again")
            self.resque.workers.register(self.id)

    def heartbeat_quietly(self) -> None:
        """Heartbeat while a job runs: a Redis outage must not disturb the job."""
        try:
            self.heartbeat()
        except redis.RedisError as error:
            self.log.warning("heartbeat failed", extra={"error": str(error)})
            self.postpone_pruning()

    def recover_previous_life(self) -> None:
        """Recover jobs still held under this worker's id by a dead predecessor.

        A container restarted after a crash keeps its hostname and often its pid,
        so the new worker has the old one's id: its heartbeat would keep the old
        in-flight jobs from ever being pruned. A starting worker holds no job, so
        anything found is the predecessor's and is recovered as the pruner would.
        """
        recovery = recover_worker(
            self.resque.redis, self.resque.keys, self.id, self.policy.redelivery_limit
        )
        if recovery.requeued or recovery.failed:
            self.log.warning(
                "recovered jobs of this worker id's previous life",
                extra={"requeued": len(recovery.requeued), "failed": len(recovery.failed)},
            )

    def prune(self) -> None:
        self.next_prune_at = time.monotonic() + self.config.prune_interval
        resque, uptime = self.resque, self.redis_uptime
        for recovery in prune_dead_workers(resque.redis, resque.keys, self.id, self.policy, uptime):
            self.log.warning(
                "recovered jobs of a dead worker",
                extra={
                    "dead_worker": recovery.worker_id,
                    "requeued": len(recovery.requeued),
                    "failed": len(recovery.failed),
                },
            )

    def queues(self) -> list[str]:
        if self.static_queues is not None:
            return self.static_queues
        read_at, cached = self.queue_cache
        if time.monotonic() - read_at >= CACHE_SECONDS:
            cached = resolve_queues(self.config.queues, self.resque.queues.names())
            self.queue_cache = (time.monotonic(), cached)
        return cached

    def paused(self) -> bool:
        read_at, flag = self.pause_cache
        if time.monotonic() - read_at >= CACHE_SECONDS:
            flag = self.resque.stats.paused()
            self.pause_cache = (time.monotonic(), flag)
        paused = self.flags.paused or flag
        if paused != self.was_paused:
            self.was_paused = paused
            self.log.info("paused" if paused else "resumed")
        return paused

    # -- Redis outages ---------------------------------------------------
    def redis_down(self, error: redis.RedisError) -> None:
        if self.redis_down_since is None:
            self.redis_down_since = time.monotonic()
            self.log.warning(
                "Redis unavailable; retrying with backoff",
                extra={"error": f"{type(error).__name__}: {error}"},
                exc_info=not isinstance(error, redis.ConnectionError | redis.TimeoutError),
            )
        self.drop_connections()
        self.health.touch()
        self.flags.sleep(self.backoff.next_delay())

    def drop_connections(self) -> None:
        if self.waiter is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self.waiter.close()
            self.waiter = None
        self.resque.redis.connection_pool.disconnect()

    def redis_up(self) -> None:
        if self.redis_down_since is None:
            return
        down_for = time.monotonic() - self.redis_down_since
        self.redis_down_since = None
        self.backoff.reset()
        self.log.info("Redis reachable again", extra={"down_seconds": round(down_for, 3)})
        self.requeue_orphans()
        self.next_heartbeat_at = 0.0  # re-check registration now (Redis may have lost data)
        self.postpone_pruning()

    def postpone_pruning(self) -> None:
        """After an outage every worker's heartbeat looks stale until it reconnects:
        wait a full ``prune_after`` before judging anyone dead, or live workers' jobs
        would be recovered (and run twice) while they are still running."""
        self.next_prune_at = max(self.next_prune_at, time.monotonic() + self.config.prune_after)
        self.redis_uptime.outage()

    def requeue_orphans(self) -> None:
        """Jobs reserved by a call whose reply was lost in an outage: never run, put back.
        The job whose ack is still pending ran: it is acked, not put back."""
        orphans = self.resque.jobs.in_flight(self.id)
        if self.pending is not None and self.pending.reserved in orphans:
            orphans.remove(self.pending.reserved)
        for orphan in orphans:
            if self.resque.jobs.requeue(self.id, orphan):
                self.log.warning("requeued a job reserved during an outage",
                                 extra={"queue": orphan.queue})  # fmt: skip

    # -- stopping --------------------------------------------------------
    def shut_down(self) -> None:
        self.worker_hooks.after_signals(self)  # a signal that ended an idle wait
        self.title.set("Shutting down")
        if self.zygote is not None:
            self.zygote.close()
        self.log.info("worker stopping", extra={"signal": self.flags.shutdown_reason})
        deadline = time.monotonic() + SHUTDOWN_RETRY_SECONDS
        while True:
            try:
                self.settle()
                self.resque.workers.unregister(self.id)
                break
            except redis.RedisError as error:
                if time.monotonic() >= deadline:
                    self.log.error(
                        "could not unregister; a pruner will recover this worker's jobs",
                        extra={"error": str(error)},
                    )
                    break
                self.drop_connections()
                time.sleep(self.backoff.next_delay())
        self.drop_connections()
        self.log.info("worker stopped")
