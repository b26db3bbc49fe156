"""Every job log line of the worker names the job: ``class`` and ``job_id`` where known."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from worker_harness import Events, WorkerProcess, wait_for

from resque_proto import Resque

Spawn = Callable[..., WorkerProcess]


def job_lines(worker: WorkerProcess, message: str) -> list[dict[str, Any]]:
    return [entry for entry in worker.logs() if entry.get("msg") == message]


def test_done_failed_and_retried_jobs_are_logged_with_class_and_id(
    spawn_worker: Spawn, resque: Resque
) -> None:
    done = resque.enqueue("test", "Record", "ok")
    failed = resque.enqueue("test", "FailingArchive", 7)
    retried = resque.enqueue("test", "Flaky", "flaky", 1)
    worker = spawn_worker(INTERVAL="0")
    assert worker.wait() == 0
    [done_line] = job_lines(worker, "job done")
    assert (done_line["class"], done_line["job_id"]) == ("Record", done.id)
    [failed_line] = job_lines(worker, "job failed")
    assert (failed_line["class"], failed_line["job_id"]) == ("FailingArchive", failed.id)
    [retry_line] = job_lines(worker, "job failed; retrying")
    assert (retry_line["class"], retry_line["job_id"]) == ("Flaky", retried.id)


def test_unknown_ruby_and_malformed_payloads_log_what_is_known(
    spawn_worker: Spawn, resque: Resque
) -> None:
    unknown = resque.enqueue("test", "NoSuchJob", 1)
    resque.jobs.push_payload("test", '{"class":"Record","args":["from ruby"]}')  # no id
    resque.jobs.push_payload("test", "not json at all")
    worker = spawn_worker(INTERVAL="0")
    assert worker.wait() == 0
    [unknown_line, malformed_line] = job_lines(worker, "job failed")
    assert (unknown_line["class"], unknown_line["job_id"]) == ("NoSuchJob", unknown.id)
    assert "class" not in malformed_line and "job_id" not in malformed_line
    assert malformed_line["exception"] == "MalformedPayload"
    [ruby_line] = job_lines(worker, "job done")
    assert ruby_line["class"] == "Record" and "job_id" not in ruby_line


def test_timed_out_and_interrupted_jobs_are_logged_with_class_and_id(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    timed_out = resque.enqueue("test", "Sleep", "timeout", 60)
    interrupted = resque.enqueue("test", "Sleep", "interrupted", 60)
    worker = spawn_worker(RESQUE_JOB_TIMEOUT="1")
    wait_for(lambda: events.of("start", tag="interrupted"), what="the second job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    [timeout_line] = job_lines(worker, "job failed")
    assert (timeout_line["class"], timeout_line["job_id"]) == ("Sleep", timed_out.id)
    assert "RESQUE_JOB_TIMEOUT" in timeout_line["error"]
    [requeued] = job_lines(worker, "job interrupted by shutdown, requeued")
    assert (requeued["class"], requeued["job_id"]) == ("Sleep", interrupted.id)
