"""Jobs the worker tests enqueue (put on PYTHONPATH, named in RESQUE_JOBS).

Every job appends JSON events to the file named by ``WORKER_TEST_EVENTS`` so a
test can see what ran, where (pid) and in what order.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resque_worker import DontPerform, TermException


def event(kind: str, **fields: Any) -> None:
    line = json.dumps({"event": kind, "pid": os.getpid(), **fields}) + "\n"
    fd = os.open(os.environ["WORKER_TEST_EVENTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class Record:
    @staticmethod
    def perform(tag: Any) -> None:
        event("ran", tag=tag)


class Sleep:
    """Announces its start, sleeps, announces its end."""

    @staticmethod
    def perform(tag: str, seconds: float) -> None:
        event("start", tag=tag)
        time.sleep(seconds)
        event("finish", tag=tag)


class StubbornSleep:
    """Swallows TermException and keeps sleeping: only SIGKILL stops it."""

    @staticmethod
    def perform(tag: str, seconds: float) -> None:
        event("start", tag=tag)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except TermException:
                event("term", tag=tag)
        event("finish", tag=tag)


class KillSelf:
    @staticmethod
    def perform() -> None:
        event("start", tag="killself")
        os.kill(os.getpid(), signal.SIGKILL)


class ForkThenFinish:
    """Forks a process that leaves through the job's own code path (SystemExit), waits
    for it, then finishes: only the job's own outcome may count."""

    @staticmethod
    def perform(tag: str, seconds: float) -> None:
        if os.fork() == 0:
            sys.exit(0)
        os.wait()
        time.sleep(seconds)
        event("finish", tag=tag)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm)": state, ppid


class KillWorker:
    """A poison job: kills the worker running it (its parent is the worker's zygote)."""

    @staticmethod
    def perform() -> None:
        event("start", tag="poison")
        os.kill(parent_of(os.getppid()), signal.SIGKILL)
        time.sleep(60)


class Lineage:
    """Reports which processes forked it and whether redis-py was loaded in them."""

    @staticmethod
    def perform(tag: Any) -> None:
        zygote = os.getppid()
        event(
            "lineage",
            tag=tag,
            zygote=zygote,
            worker=parent_of(zygote),
            redis_loaded="redis" in sys.modules,
        )


class ExitWith:
    @staticmethod
    def perform(code: int) -> None:
        os._exit(code)


class Hooked:
    @classmethod
    def before_perform_a(cls, *args: Any) -> None:
        event("hook", name="before_perform_a", args=list(args))

    @classmethod
    def before_perform_b(cls, *args: Any) -> None:
        event("hook", name="before_perform_b", args=list(args))
        if args and args[0] == "skip":
            raise DontPerform("skipped by hook")

    @classmethod
    def around_perform_a(cls, proceed: Callable[[], Any], *args: Any) -> None:
        event("hook", name="around_perform_a:before")
        proceed()
        event("hook", name="around_perform_a:after")

    @classmethod
    def around_perform_b(cls, proceed: Callable[[], Any], *args: Any) -> None:
        event("hook", name="around_perform_b:before")
        proceed()
        event("hook", name="around_perform_b:after")

    @classmethod
    def perform(cls, mode: str) -> None:
        event("hook", name="perform")
        if mode == "fail":
            raise ValueError("hooked job failed")
        if mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)

    @classmethod
    def after_perform_a(cls, *args: Any) -> None:
        event("hook", name="after_perform_a")

    @classmethod
    def on_failure_a(cls, error: BaseException, *args: Any) -> None:
        event("hook", name="on_failure_a", error=str(error), error_class=type(error).__name__)


def before_first_fork() -> None:
    event("worker_hook", name="before_first_fork")


def before_fork(job: Any) -> None:
    event("worker_hook", name="before_fork", job=job.class_name)


def after_fork(job: Any) -> None:
    event("worker_hook", name="after_fork", job=job.class_name)


RESQUE_CLASS_NAMES = {"Billing::Invoice": Record}


def runs_so_far(tag: str) -> int:
    """How many times a job with this tag has run (from the events file)."""
    path = Path(os.environ["WORKER_TEST_EVENTS"])
    if not path.exists():
        return 0
    events = [json.loads(line) for line in path.read_text().splitlines() if line]
    return sum(1 for e in events if e["event"] == "ran" and e.get("tag") == tag)


class Flaky:
    """Fails with ConnectionError until it has failed ``failures`` times."""

    retry_limit = 3

    @staticmethod
    def perform(tag: str, failures: int) -> None:
        earlier = runs_so_far(tag)
        event("ran", tag=tag, at=time.time())
        if earlier < failures:
            raise ConnectionError(f"flaky run {earlier + 1}")


class Fatal:
    retry_limit = 3
    fatal_exceptions = (KeyError,)

    @staticmethod
    def perform(tag: str) -> None:
        event("ran", tag=tag, at=time.time())
        raise KeyError(tag)


class BackingOff:
    """Always fails; retried twice, after 1 s then 2 s."""

    retry_limit = 2
    backoff = (1, 2)

    @staticmethod
    def perform(tag: str) -> None:
        event("ran", tag=tag, at=time.time())
        raise RuntimeError("still broken")


class HookError(Exception):
    """What BadFailureHook's on_failure hook raises."""


class BadFailureHook:
    """Fails, and its first on_failure hook fails too; the second must not run."""

    @staticmethod
    def perform(tag: str) -> None:
        raise ValueError(f"job {tag} broke")

    @classmethod
    def on_failure_a_raises(cls, error: BaseException, *args: Any) -> None:
        raise HookError("hook broke too")

    @classmethod
    def on_failure_b_after(cls, error: BaseException, *args: Any) -> None:
        event("hook", name="on_failure_b_after")


class KillSelfBadFailureHook(KillSelf):
    """Dies (a dirty exit, hooks run in the worker parent); its on_failure hook raises."""

    @classmethod
    def on_failure_raises(cls, error: BaseException, *args: Any) -> None:
        raise HookError("parent hook broke")


def notify_failure(record: dict[str, Any]) -> None:
    """A RESQUE_FAILURE_NOTIFIERS notifier: logs the record as an event."""
    event("notified", record=record)
    record["error"] = "changed by a notifier"  # must not reach the next notifier


def notifier_raises(record: dict[str, Any]) -> None:
    raise RuntimeError("notifier broke")


def notifier_hangs(record: dict[str, Any]) -> None:
    event("notifier_hangs")
    time.sleep(600)


class RegisterAtExit:
    """Registers an atexit handler appending an ``at_exit`` event (RUN_AT_EXIT_HOOKS)."""

    @staticmethod
    def perform(tag: str) -> None:
        atexit.register(event, "at_exit", tag=tag)
        event("ran", tag=tag)
