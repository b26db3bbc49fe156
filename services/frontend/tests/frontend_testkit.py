"""Test helpers of the frontend: data in the exact formats real Ruby Resque 3.0 writes
(see shared/resque_proto/tests/wire/), and CSRF-aware form posts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from resque_frontend.security import CSRF_COOKIE
from resque_proto import Resque
from resque_proto.payload import decode_json, decode_payload, encode_payload
from resque_proto.records import failure_record, working_record
from resque_proto.retry import retry_payload
from resque_proto.status import FAILED, SCHEDULED
from resque_proto.timefmt import run_at

# Verbatim from shared/resque_proto/tests/wire/ruby-resque-3.0-keys.txt and its README.
RUBY_WORKER = "vm:3887:file_serve"
RUBY_WORKING = (
    '{"queue":"file_serve","run_at":"2026-11-27T18:47:43Z",'
    '"payload":{"class":"SlowArchive","args":[3.0]}}'
)
RUBY_STARTED = "2026-11-27 18:47:43 +0000"
RUBY_HEARTBEAT = "2026-11-27T18:47:43+00:00"
RUBY_FAILURE = (
    '{"failed_at":"2026/11/27 18:47:43 UTC","payload":{"class":"FailingArchive","args":[4242]},'
    '"exception":"ArchiveError","error":"cannot archive repo 4242",'
    '"backtrace":["resque_roundtrip.rb:90:in `perform\'"],"worker":"vm:3887:file_serve",'
    '"queue":"file_serve"}'
)
RUBY_RETRIED = (
    '{"failed_at":"2026/11/27 18:40:32 UTC","payload":{"class":"SleepJob","args":[1]},'
    '"exception":"Resque::DirtyExit","error":"Child process received unhandled signal pid 25405 '
    'SIGKILL (signal 9)","backtrace":[],"worker":"vm:24860:low","queue":"low",'
    '"retried_at":"2026/11/27 18:40:38 UTC"}'
)
RUBY_JOBS = ('{"class":"Archive","args":[0,"branch-0"]}', '{"class":"Archive","args":[1]}')
ACTIVE_JOB = (
    '{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":'
    '"ArchiveJob","job_id":"5f0c1e2a-0000-4000-8000-000000000001","provider_job_id":null,'
    '"queue_name":"file_serve","priority":null,"arguments":[44,"masterbrew"],"executions":0,'
    '"exception_executions":{},"locale":"en","timezone":"UTC",'
    '"enqueued_at":"2025-01-01T00:00:00.123456789Z","scheduled_at":null}]}'
)
# resque-scheduler's delayed payload (job_to_hash_with_queue), docs/protocol.md section 8.
RUBY_DELAYED = '{"class":"Archive","args":[44],"queue":"file_serve"}'
RUBY_LAST_ENQUEUED = "2026-12-02 01:27:41 +0000"  # Ruby's Time#to_s
RETRYING_ID = "5e7a1c0ffee0000000000000000000a1"  # the demo's job waiting for its retry
GAVE_UP_ID = "5e7a1c0ffee0000000000000000000b2"  # the demo's job that failed every attempt
AppFactory = Callable[..., Flask]
XSS = "<script>alert('x')</script>"


def csrf(client: FlaskClient) -> str:
    """The CSRF token of this client's session (fetching a page issues it)."""
    cookie = client.get_cookie(CSRF_COOKIE)
    if cookie is None:
        assert client.get("/queues").status_code == 200
        cookie = client.get_cookie(CSRF_COOKIE)
    assert cookie is not None
    return cookie.value


def post(client: FlaskClient, path: str, **form: str) -> TestResponse:
    """A form POST with the session's CSRF token (and ``confirm=yes`` if given)."""
    return client.post(path, data={"csrf_token": csrf(client), **form})


def seed_ruby(resque: Resque, client: redis.Redis) -> None:
    """A Redis as Ruby Resque 3.0 leaves it: a busy Ruby worker, queued jobs and failures."""
    keys = resque.keys
    for raw in (*RUBY_JOBS, ACTIVE_JOB):
        resque.jobs.push_payload("file_serve", raw)
    client.sadd(keys.workers, RUBY_WORKER)
    client.set(keys.worker(RUBY_WORKER), RUBY_WORKING)
    client.set(keys.worker_started(RUBY_WORKER), RUBY_STARTED)
    client.hset(keys.heartbeats, RUBY_WORKER, RUBY_HEARTBEAT)
    client.set(keys.stat("processed"), 22)
    client.set(keys.stat("failed"), 2)
    client.set(keys.stat("processed", RUBY_WORKER), 21)
    client.set(keys.stat("failed", RUBY_WORKER), 1)
    client.rpush(keys.failed, RUBY_RETRIED, RUBY_FAILURE)


def text_of(response: TestResponse) -> str:
    body: str = response.get_data(as_text=True)
    return body


def links(body: str, prefix: str) -> list[str]:
    """Every href in ``body`` starting with ``prefix``, HTML-unescaped."""
    found = re.findall(r'(?:href|action)="(' + re.escape(prefix) + r'[^"]*)"', body)
    return [link.replace("&amp;", "&") for link in found]


# Ruby's RedisMultiQueue#requeue appends retried_at without a zone.
RUBY_MULTI_RETRIED = RUBY_RETRIED.replace('"retried_at":"2026/11/27 18:40:38 UTC"',
                                          '"retried_at":"2026/11/27 18:40:38"')  # fmt: skip


def ruby_multi_queue_fail(client: redis.Redis, *records: str) -> None:
    """Failures as Ruby's RedisMultiQueue backend writes them: ``SADD failed_queues
    <queue>_failed`` then ``RPUSH <queue>_failed <record>``, per record."""
    for record in records:
        name = f"{decode_json(record)['queue']}_failed"
        client.sadd("resque:failed_queues", name)
        client.rpush(f"resque:{name}", record)


def add_failure(
    resque: Resque,
    *,
    cls: str = "Archive",
    args: Sequence[Any] = (),
    exception: str = "RuntimeError",
    error: str = "boom",
    queue: str = "q",
    worker: str = "host:1:q",
    backtrace: Sequence[str] = (),
) -> str:
    """Record a failure as our workers do; returns the record's exact bytes."""
    return resque.failures.create(
        payload={"class": cls, "args": list(args)},
        exception=exception,
        error=error,
        backtrace=backtrace,
        worker=worker,
        queue=queue,
    )


def schedule_raw(resque: Resque, timestamp: int, *payloads: str) -> None:
    """File payloads, as given, at ``timestamp`` (past or future), as any producer does."""
    resque.delayed.schedule([(timestamp, payload) for payload in payloads])


def seed_scheduler(resque: Resque, client: redis.Redis, now: float) -> None:
    """Delayed jobs (one time overdue, Ruby's and ours), recurring schedules, a leader."""
    schedule_raw(resque, int(now) - 4, RUBY_DELAYED)
    for n in range(6):
        resque.enqueue_at(now + 90 + 600 * n, "reports", "WeeklyReport", f"2026-W{49 + n}")
    schedule_raw(resque, int(now) + 3600, *(f'{{"class":"Reindex","args":["repo/{n}"],'
                                            f'"queue":"low"}}' for n in range(3)))  # fmt: skip
    resque.schedules.put("nightly_archive", {"cron": "30 2 * * * Europe/Paris",
                         "class": "Archive", "queue": "file_serve", "args": [0, "master"],
                         "description": "archive every repository at night"})  # fmt: skip
    resque.schedules.put("heartbeat", {"every": "5m", "class": "Ping", "queue": "high"})
    resque.schedules.put("broken", {"every": "soon", "class": "Nope", "queue": "low"})
    client.hset(resque.keys.last_enqueued_at, "nightly_archive", RUBY_LAST_ENQUEUED)
    client.set(resque.keys.scheduler_lock, "sched-1:77", ex=60)


def seed_demo(resque: Resque, client: redis.Redis) -> None:
    """A lively Redis for screenshots and browser tests: queues of every size, our
    workers on two hosts (busy and idle), a stale Ruby worker, and varied failures."""
    seed_ruby(resque, client)
    now = time.time()
    for n in range(40):
        extras = {"id": f"job-{n}", "enqueued_at": now - 95 + n}
        resque.jobs.push("file_serve", "Archive", [1000 + n, "master"], extras)
    resque.enqueue_many([("high", "Thumbnail", [n, {"size": "256x256"}]) for n in range(5)])
    resque.enqueue_many([("low", "Reindex", [f"repo/{n}"]) for n in range(120)])
    resque.enqueue_many([("reports", "WeeklyReport", ["2026-W48"]) for _ in range(3)])
    busy = {"web-1:101:high,file_serve": "file_serve", "web-2:201:low": "low"}
    for worker in (*busy, "web-1:102:*"):
        resque.workers.register(worker)
    for worker, queue in busy.items():
        for duration in (0.004, 0.02, 0.3, 1.7, 0.09):
            reserved = resque.jobs.reserve(worker, [queue])
            assert reserved is not None
            resque.jobs.finish(worker, reserved, duration)
        assert resque.jobs.reserve(worker, [queue]) is not None
    started = datetime.fromtimestamp(now - 150, UTC)
    payload = {"class": "SlowArchive", "args": [30]}
    client.set(resque.keys.worker("web-2:201:low"), working_record("low", payload, run_at(started)))
    minute = int(now) // 60 * 60
    processed, failed = 0, 0
    for ago in range(45, 0, -1):  # an hour of history for the throughput chart
        processed += 300 + (ago * 37) % 170
        failed += (ago * 7) % 5
        client.hset(resque.keys.throughput_history, str(minute - 60 * ago), f"{processed} {failed}")
    client.set(resque.keys.stat("processed"), processed + 320)
    client.set(resque.keys.stat("failed"), failed + 2)
    seed_retries(resque, client, now)  # its failure record older than those below
    exceptions = ("Timeout::Error", "ActiveRecord::RecordNotFound", "Resque::DirtyExit")
    for n in range(27):
        add_failure(
            resque,
            cls=("Archive", "Thumbnail", "WeeklyReport")[n % 3],
            args=[n, "master"],
            exception=exceptions[n % 3],
            error=f"failure number {n}: the remote end hung up unexpectedly",
            queue=("file_serve", "high", "reports")[n % 3],
            worker="web-1:101:high,file_serve",
            backtrace=[f"jobs/archive.py:{40 + n}:in perform", "resque_worker/child.py:88:in run"],
        )
    seed_scheduler(resque, client, now)
    resque.queues.pause("reports")


def seed_retries(resque: Resque, client: redis.Redis, now: float) -> None:
    """As our workers leave them (docs/protocol.md, section 9): a job with its own retry
    policy waiting 2 minutes for its second attempt, one that failed its fourth and last
    attempt, their statuses, and the retries counters."""
    policy = {"limit": 3, "delay": 120, "backoff": "exponential"}
    extras = {"id": RETRYING_ID, "enqueued_at": now - 30, "retry": policy}
    first = encode_payload("Thumbnail", [7, {"size": "1024x1024"}], extras)
    again = retry_payload(decode_payload(first), "high", 2)
    due = int(now) + 120
    scheduled = resque.jobs.status_of("high", again, SCHEDULED, scheduled_for=due)
    resque.delayed.schedule([(due, again)], [scheduled] if scheduled else [])
    last = encode_payload("Thumbnail", [8, {"size": "1024x1024"}],
                          {"id": GAVE_UP_ID, "retry": policy, "attempt": 4})  # fmt: skip
    record = failure_record(
        payload=decode_json(last), exception="Timeout::Error", error="upstream timed out after 30s",
        backtrace=["jobs/thumbnail.py:12:in perform"], worker="web-1:101:high,file_serve",
        queue="high", attempts=4,
    )  # fmt: skip
    client.rpush(resque.keys.failed, record)
    failed = resque.jobs.status_of("high", last, FAILED, failure=decode_json(record))
    if failed is not None:
        client.set(resque.keys.status(failed.job_id), failed.body, ex=3600)
    client.hset(resque.keys.retries, mapping={"high": 4, "file_serve": 1})
