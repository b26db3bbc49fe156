"""Resque 3.0's failure details through a real forked worker: on_failure hooks that
raise, and failure notifiers (custom, webhook, Sentry) beside the Redis list."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from worker_harness import Events, Receiver, WorkerProcess, sentry_events, wait_for

from resque_proto import Resque
from resque_proto.records import Failure

Spawn = Callable[..., WorkerProcess]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def only_failure(resque: Resque) -> Failure:
    failures: list[Failure] = wait_for(resque.failures.all, what="a failure record")
    assert len(failures) == 1
    return failures[0]


def carries_on(resque: Resque, events: Events) -> None:
    resque.enqueue("test", "Record", "still-working")
    wait_for(lambda: events.of("ran", tag="still-working"), what="the worker's next job")


# -- on_failure hooks that raise ---------------------------------------------


def test_a_raising_failure_hook_keeps_the_original_error_in_resques_words(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "BadFailureHook", "x")
    failure = only_failure(resque)
    assert failure.exception == "ValueError"
    assert re.fullmatch(r".*worker_test_jobs\.py:\d+:in `perform'", failure.backtrace[0])
    assert failure.error == (
        "Additional error (worker_test_jobs.HookError: hook broke too) occurred in running "
        'failure hooks for job (Job{test} | BadFailureHook | ["x"])\n'
        "Original error that caused job failure was worker_test_jobs.HookError: "
        "ValueError: job x broke"
    )
    carries_on(resque, events)
    assert not events.of("hook", name="on_failure_b_after")  # as in Ruby: the rest skipped


def test_a_raising_failure_hook_after_a_dirty_exit_is_recorded_too(
    spawn_worker: Spawn, resque: Resque, events: Events
) -> None:
    spawn_worker()
    resque.enqueue("test", "KillSelfBadFailureHook")
    failure = only_failure(resque)
    assert failure.exception == "Resque::DirtyExit"
    error = failure.error or ""
    assert error.startswith(
        "Additional error (worker_test_jobs.HookError: parent hook broke) occurred in running "
        "failure hooks for job (Job{test} | KillSelfBadFailureHook | [])\n"
        "Original error that caused job failure was worker_test_jobs.HookError: "
        "Resque::DirtyExit: Child process received unhandled signal"
    )
    carries_on(resque, events)


# -- notifiers ---------------------------------------------------------------


def test_notifiers_get_the_written_record_and_their_errors_change_nothing(
    spawn_worker: Spawn, resque: Resque, events: Events, receiver: Receiver
) -> None:
    worker = spawn_worker(
        RESQUE_FAILURE_NOTIFIERS="worker_test_jobs:notify_failure,worker_test_jobs:notifier_raises",
        RESQUE_FAILURE_WEBHOOK_URL=f"http://127.0.0.1:{receiver.port}/failures?token=t",
    )
    resque.enqueue("test", "FailingArchive", 44, "disk full")
    failure = only_failure(resque)
    record = json.loads(failure.raw)
    wait_for(lambda: receiver.requests, what="the webhook's POST")
    path, headers, body = receiver.requests[0]
    assert path == "/failures?token=t"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == record  # the webhook ran after a notifier changed its copy
    (notified,) = events.of("notified")
    assert notified["record"] == record
    wait_for(lambda: worker.logged("failure notifier failed"), what="the notifier error logged")
    (logged,) = [e for e in worker.logs() if e.get("msg") == "failure notifier failed"]
    assert logged["notifier"] == "worker_test_jobs:notifier_raises"
    assert "token=t" not in worker.log_path.read_text()  # the URL may hold a secret
    carries_on(resque, events)
    assert only_failure(resque).raw == failure.raw


def test_a_failing_webhook_and_a_hanging_notifier_are_logged_and_the_worker_carries_on(
    spawn_worker: Spawn, resque: Resque, events: Events, receiver: Receiver
) -> None:
    receiver.status = 500
    worker = spawn_worker(
        RESQUE_FAILURE_NOTIFIERS="worker_test_jobs:notifier_hangs",
        RESQUE_FAILURE_WEBHOOK_URL=f"http://127.0.0.1:{receiver.port}/",
        RESQUE_FAILURE_NOTIFIER_TIMEOUT="0.5",
    )
    resque.enqueue("test", "FailingArchive", 44, "disk full")
    failure = only_failure(resque)
    carries_on(resque, events)
    assert events.of("notifier_hangs") and receiver.requests
    errors = {e["notifier"]: e["error"] for e in worker.logs()
              if e.get("msg") == "failure notifier failed"}  # fmt: skip
    assert errors["worker_test_jobs:notifier_hangs"].startswith("NotifierTimeout")
    assert errors["webhook"].startswith("HTTPError: HTTP Error 500")
    assert only_failure(resque).raw == failure.raw
    wait_for(lambda: resque.stats.processed() == 2, what="the next job settled")
    assert resque.stats.failed() == 1


def test_a_bad_notifier_setting_stops_the_worker_with_one_line(
    spawn_worker: Spawn,
) -> None:
    worker = spawn_worker(RESQUE_FAILURE_NOTIFIERS="worker_test_jobs:no_such_notifier")
    assert worker.wait() == 2
    (line,) = worker.log_path.read_text().splitlines()
    assert line.startswith(
        "resque-worker: RESQUE_FAILURE_NOTIFIERS: cannot load 'worker_test_jobs:no_such_notifier'"
    )


def test_sentry_gets_an_event_per_failure(
    spawn_worker: Spawn, resque: Resque, events: Events, receiver: Receiver
) -> None:
    spawn_worker(SENTRY_DSN=f"http://key@127.0.0.1:{receiver.port}/1")
    resque.enqueue("test", "FailingArchive", 44, "disk full")
    failure = only_failure(resque)
    (event,) = wait_for(lambda: sentry_events(receiver), what="a Sentry event")
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "resque_worker.examples.ArchiveError"
    assert exception["value"] == "cannot archive repository 44: disk full"
    assert exception["stacktrace"]["frames"][-1]["function"] == "perform"
    assert event["tags"] == {
        "queue": "test", "job_class": "FailingArchive", "worker": failure.worker,
    }  # fmt: skip
    assert event["extra"]["failure_record"] == json.loads(failure.raw)
    carries_on(resque, events)
