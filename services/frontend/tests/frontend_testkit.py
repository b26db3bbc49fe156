"""Test helpers of the frontend: data in the exact formats real Ruby Resque 3.0 writes
(see shared/resque-wire/), and CSRF-aware form posts."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from resque_frontend.security import CSRF_COOKIE
from resque_proto import Resque

# Verbatim from shared/resque-wire/ruby-resque-3.0-keys.txt and its README.
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
