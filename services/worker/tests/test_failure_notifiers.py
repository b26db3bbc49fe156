"""Failure notifiers on their own: settings, isolation, time limit, the webhook and
Sentry against local HTTP endpoints (the worker-level tests are in test_failure_parity)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from worker_harness import Receiver, sentry_events

from resque_proto.settings import SettingError
from resque_worker.failure_notifiers import (
    FailureNotifiers,
    NamedNotifier,
    NotifierTimeout,
    sentry_frame,
    time_limit,
)

RECORD = {
    "failed_at": "2026/12/02 05:00:00 UTC",
    "payload": {"class": "Archive", "args": [44]},
    "exception": "ArchiveError",
    "error": "disk full",
    "backtrace": ["/app/jobs.py:12:in `perform'", "/app/lib.py:3:in `write'"],
    "worker": "vm:1:test",
    "queue": "test",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_nothing_configured_means_no_notifiers() -> None:
    assert FailureNotifiers.from_env({}).notifiers == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RESQUE_FAILURE_NOTIFIERS": "json"}, "'json' is not package.module:callable"),
        ({"RESQUE_FAILURE_NOTIFIERS": "json:nope"}, "cannot load 'json:nope'"),
        ({"RESQUE_FAILURE_NOTIFIERS": "no_such_module:x"}, "cannot load 'no_such_module:x'"),
        ({"RESQUE_FAILURE_NOTIFIERS": "json:__doc__"}, "'json:__doc__' is not callable"),
        ({"RESQUE_FAILURE_WEBHOOK_URL": "ftp://x/"}, "must be an http:// or https:// URL"),
        ({"RESQUE_FAILURE_NOTIFIER_TIMEOUT": "soon"}, "RESQUE_FAILURE_NOTIFIER_TIMEOUT="),
        ({"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN is not usable"),
    ],
)
def test_bad_settings_are_one_line_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError) as raised:
        FailureNotifiers.from_env(env)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_each_notifier_gets_its_own_copy_and_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, Any]] = []

    def changes(record: dict[str, Any]) -> None:
        record["error"] = "changed"
        raise RuntimeError("broke")

    notifiers = FailureNotifiers(
        [NamedNotifier("changes", changes), NamedNotifier("keeps", seen.append)], timeout=5
    )
    with caplog.at_level(logging.ERROR, logger="resque_worker"):
        notifiers.notify(json.dumps(RECORD))
    assert seen == [RECORD]
    (logged,) = caplog.records
    assert logged.getMessage() == "failure notifier failed"
    assert logged.notifier == "changes" and logged.error == "RuntimeError: broke"  # type: ignore[attr-defined]


def test_the_time_limit_interrupts_a_blocking_call_and_is_cleared_after() -> None:
    with pytest.raises(NotifierTimeout), time_limit(0.2):
        time.sleep(60)
    with time_limit(0.05):
        pass
    time.sleep(0.1)  # no late alarm once the block is over


def test_the_webhook_posts_the_record(receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hook"
    FailureNotifiers.from_env({"RESQUE_FAILURE_WEBHOOK_URL": url}).notify(json.dumps(RECORD))
    ((path, headers, body),) = receiver.requests
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == RECORD


def test_the_webhook_url_may_come_from_a_file(receiver: Receiver, tmp_path: Any) -> None:
    secret = tmp_path / "url"
    secret.write_text(f"http://127.0.0.1:{receiver.port}/from-file\n")
    env = {"RESQUE_FAILURE_WEBHOOK_URL_FILE": str(secret)}
    FailureNotifiers.from_env(env).notify(json.dumps(RECORD))
    assert [path for path, _, _ in receiver.requests] == ["/from-file"]


def test_sentry_events_carry_the_record(receiver: Receiver) -> None:
    env = {"SENTRY_DSN": f"http://key@127.0.0.1:{receiver.port}/1"}
    FailureNotifiers.from_env(env).notify(json.dumps(RECORD))
    (event,) = sentry_events(receiver)
    (exception,) = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ArchiveError", "disk full")
    assert exception["stacktrace"]["frames"] == [
        {"filename": "/app/lib.py", "lineno": 3, "function": "write"},
        {"filename": "/app/jobs.py", "lineno": 12, "function": "perform"},
    ]  # Sentry lists the innermost frame last
    assert event["tags"] == {"queue": "test", "job_class": "Archive", "worker": "vm:1:test"}


def test_backtrace_lines_of_another_shape_keep_their_text() -> None:
    assert sentry_frame("somewhere odd") == {"filename": "somewhere odd"}
