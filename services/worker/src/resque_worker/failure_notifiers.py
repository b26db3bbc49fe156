"""Failure notifiers: tell other systems about a failure once its record is written.

Resque's ``Failure::Multiple`` in our shape: the Redis ``failed`` list stays the
record; notifiers are told afterwards, each with its own copy of the record (a
dict: ``failed_at``, ``payload``, ``exception``, ``error``, ``backtrace``,
``worker``, ``queue``). A notifier that raises or overruns
``RESQUE_FAILURE_NOTIFIER_TIMEOUT`` is logged and skipped: the job and its
record are settled before any notifier runs, so nothing a notifier does can lose
or change them.

- ``RESQUE_FAILURE_NOTIFIERS=package.module:callable,...``: your own, called with
  the record dict.
- ``RESQUE_FAILURE_WEBHOOK_URL`` (or ``_FILE``): POSTs the record as JSON.
- ``SENTRY_DSN`` (or ``_FILE``): sends an event to Sentry (``resque-worker[sentry]``).

The worker parent is single-threaded, so the time limit is a ``SIGALRM`` timer
that raises inside the notifier (a blocking socket call included).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import logging
import re
import signal
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from resque_proto.settings import EnvSettings, SettingError

log = logging.getLogger("resque_worker")

Record = dict[str, Any]
Notifier = Callable[[Record], object]
DEFAULT_TIMEOUT = 5.0


class NotifierTimeout(Exception):
    """A notifier ran past its time limit."""


@dataclass(frozen=True)
class NamedNotifier:
    name: str  # for log lines: never the webhook URL or DSN (they hold secrets)
    notify: Notifier


class FailureNotifiers:
    def __init__(self, notifiers: Sequence[NamedNotifier], timeout: float) -> None:
        self.notifiers = tuple(notifiers)
        self.timeout = timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FailureNotifiers:
        """The notifiers the environment asks for; a bad setting is a SettingError."""
        settings = EnvSettings(env)
        timeout = settings.number("RESQUE_FAILURE_NOTIFIER_TIMEOUT", DEFAULT_TIMEOUT, 0.001)
        notifiers = [NamedNotifier(spec, load(spec))
                     for spec in settings.items("RESQUE_FAILURE_NOTIFIERS")]  # fmt: skip
        url = settings.secret("RESQUE_FAILURE_WEBHOOK_URL")
        if url:
            notifiers.append(NamedNotifier("webhook", Webhook(url.strip(), timeout)))
        dsn = settings.secret("SENTRY_DSN")
        if dsn:
            notifiers.append(NamedNotifier("sentry", SentryNotifier(dsn.strip(), timeout)))
        return cls(notifiers, timeout)

    def notify(self, record: str) -> None:
        """Tell every notifier about the written failure ``record`` (its JSON); never raises."""
        if not self.notifiers:
            return
        try:
            body = json.loads(record)
        except ValueError:
            log.exception("failure record is not JSON; notifiers skipped")
            return
        for notifier in self.notifiers:
            try:
                with time_limit(self.timeout):
                    notifier.notify(copy.deepcopy(body))
            except BaseException as error:  # even sys.exit: signals only set flags here
                why = f"{type(error).__name__}: {error}"
                log.error(
                    "failure notifier failed", extra={"notifier": notifier.name, "error": why}
                )


def load(spec: str) -> Notifier:
    """``package.module:callable`` imported; a bad spec is a one-line SettingError."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SettingError(f"RESQUE_FAILURE_NOTIFIERS: {spec!r} is not package.module:callable")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise SettingError(f"RESQUE_FAILURE_NOTIFIERS: cannot load {spec!r}: {error}") from None
    if not callable(target):
        raise SettingError(f"RESQUE_FAILURE_NOTIFIERS: {spec!r} is not callable")
    return target  # type: ignore[no-any-return]


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise NotifierTimeout in the block after ``seconds`` (main thread only: elsewhere
    the block runs unbounded, and only the notifiers' own timeouts apply)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise NotifierTimeout(f"still running after {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Webhook:
    """POSTs the record as JSON; any answer but 2xx is an error (logged)."""

    def __init__(self, url: str, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise SettingError("RESQUE_FAILURE_WEBHOOK_URL must be an http:// or https:// URL")
        self.url = url
        self.timeout = timeout

    def __call__(self, record: Record) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(record, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "resque-worker"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            answer.read()  # urlopen raises HTTPError for 4xx/5xx


class SentryNotifier:
    """One Sentry event per failure, from the record (the exception object lives and
    dies in the job's child). A client of its own: the process-wide Sentry setup of
    job code is left alone."""

    def __init__(self, dsn: str, timeout: float) -> None:
        try:
            import sentry_sdk
        except ImportError:
            raise SettingError(
                "SENTRY_DSN is set but sentry-sdk is not installed: install resque-worker[sentry]"
            ) from None
        try:
            self.client = sentry_sdk.Client(dsn=dsn, default_integrations=False)
        except Exception as error:  # sentry-sdk's BadDsn and friends
            raise SettingError(f"SENTRY_DSN is not usable: {type(error).__name__}") from None
        self.timeout = timeout

    def __call__(self, record: Record) -> None:
        event: Any = sentry_event(record)  # sentry-sdk's Event type is private
        self.client.capture_event(event)
        self.client.flush(timeout=self.timeout)


def sentry_event(record: Record) -> dict[str, Any]:
    payload = record.get("payload")
    job = payload if isinstance(payload, dict) else {}
    frames = [sentry_frame(str(line)) for line in reversed(record.get("backtrace") or [])]
    return {
        "level": "error",
        "logger": "resque_worker",
        "exception": {"values": [{
            "type": str(record.get("exception")),
            "value": str(record.get("error")),
            "stacktrace": {"frames": frames},
        }]},
        "tags": {"queue": record.get("queue"), "job_class": job.get("class"),
                 "worker": record.get("worker")},
        "extra": {"failure_record": record},
    }  # fmt: skip


RUBY_FRAME = re.compile(r"(?P<filename>.*):(?P<lineno>\d+):in `(?P<function>.*)'")


def sentry_frame(line: str) -> dict[str, Any]:
    """A backtrace line, ``path:line:in `function'`` (Ruby's shape), as a Sentry frame."""
    match = RUBY_FRAME.fullmatch(line)
    if match is None:
        return {"filename": line}
    return {**match.groupdict(), "lineno": int(match["lineno"])}
