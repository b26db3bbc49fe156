"""The parent's side of one forked job: wait, heartbeat, enforce timeouts, stop on signals.

The child is forked by the zygote (``zygote.py``), which reports its exit over
the zygote socket; the child writes its outcome on its own socket to the parent.
The parent sleeps in ``poll`` on both sockets and the signal wakeup pipe;
timers for the next heartbeat, the job deadline and the kill sequence bound
each sleep. Stopping a job follows Resque 3.0: without
``TERM_CHILD`` the child is killed at once; with it, the child gets
``RESQUE_PRE_SHUTDOWN_TIMEOUT`` seconds to finish, then TERM, then KILL after
``RESQUE_TERM_TIMEOUT``. Signals go to the child's whole process group (the
parent signals it by pid; it need not be its own child), so anything the job
started stops too.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from resque_proto.records import DIRTY_EXIT
from resque_worker.config import Config
from resque_worker.outcome import Outcome
from resque_worker.signals import SignalFlags
from resque_worker.zygote_client import ChildExit, ZygoteClient

SHUTDOWN_SIGNALS = frozenset({"SIGTERM", "SIGINT"})


@dataclass(frozen=True)
class ChildResult:
    pid: int
    status: int | None  # None: the zygote died first, taking the child with it
    reported: Outcome | None
    stopped_by: str | None  # "SIGTERM"/"SIGINT"/"SIGUSR1"/"timeout" when we stopped it
    for_shutdown: bool


class ChildWatch:
    def __init__(
        self,
        pid: int,
        zygote: ZygoteClient,
        flags: SignalFlags,
        config: Config,
        heartbeat: Callable[[], None],
        next_heartbeat: Callable[[], float],
    ) -> None:
        self.pid = pid
        self.zygote = zygote
        self.flags = flags
        self.config = config
        self.heartbeat = heartbeat
        self.next_heartbeat = next_heartbeat
        self.plan: list[tuple[float, signal.Signals]] = []
        self.stopped_by: str | None = None
        self.for_shutdown = False
        started = time.monotonic()
        self.deadline = started + config.job_timeout if config.job_timeout > 0 else None

    def wait(self) -> ChildResult:
        while (ended := self._child_exit()) is None:
            pass
        if ended.status is None:  # the group may outlive the zygote and its child
            self._send(signal.SIGKILL)
        return ChildResult(
            self.pid, ended.status, Outcome.decode(ended.report), self.stopped_by,
            self.for_shutdown,
        )  # fmt: skip

    def _child_exit(self) -> ChildExit | None:
        now = time.monotonic()
        self._act_on_signals(now)
        self._act_on_timers(now)
        timers = (self.next_heartbeat(), self.deadline, self._next_kill())
        wake_at = min(t for t in timers if t is not None)
        if self.zygote.exit_ready():
            return self.zygote.wait_exit()
        poller = select.poll()  # the child's socket leaves the set at its end of file
        for fd in (*self.zygote.filenos(), self.flags.wakeup_read):
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(max(0.0, wake_at - time.monotonic()) * 1000 + 1):
            if fd == self.flags.wakeup_read:
                self.flags.drain()
            else:
                return self.zygote.wait_exit()
        return None

    def _next_kill(self) -> float | None:
        return self.plan[0][0] if self.plan else None

    def _act_on_signals(self, now: float) -> None:
        name = self.flags.take_stop_job()
        if name is None:
            return
        if name in SHUTDOWN_SIGNALS and self.flags.shutdown:
            self.for_shutdown = True
        if self.stopped_by is None:
            self.stopped_by = name
            self.plan = self._stop_plan(now)

    def _stop_plan(self, now: float) -> list[tuple[float, signal.Signals]]:
        if not self.config.term_child:
            return [(now, signal.SIGKILL)]
        term_at = now + self.config.pre_shutdown_timeout
        return [(term_at, signal.SIGTERM), (term_at + self.config.term_timeout, signal.SIGKILL)]

    def _act_on_timers(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            if self.stopped_by is None:
                self.stopped_by = "timeout"
            self.plan = [(now, signal.SIGKILL)]
        while self.plan and self.plan[0][0] <= now:
            _, signum = self.plan.pop(0)
            self._send(signum)
        if now >= self.next_heartbeat():
            self.heartbeat()

    def _send(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def judge(result: ChildResult, config: Config) -> Outcome | None:
    """The job's outcome, or None when it must go back on its queue (shutdown)."""
    reported = result.reported
    if result.for_shutdown and (reported is None or reported.interrupted):
        return None
    pid = result.pid
    if result.status is None:
        return Outcome.failed(
            DIRTY_EXIT,
            f"The fork server (zygote) died while child pid {pid} ran the job; "
            "the child was killed with it",
        )
    if reported is not None and os.WIFEXITED(result.status) and os.WEXITSTATUS(result.status) == 0:
        return reported
    if result.stopped_by == "timeout":
        return Outcome.failed(
            DIRTY_EXIT,
            f"Job timed out after {config.job_timeout:g}s (RESQUE_JOB_TIMEOUT): "
            f"child process pid {pid} killed with SIGKILL",
        )
    if os.WIFSIGNALED(result.status):
        signum = os.WTERMSIG(result.status)
        name = signal.Signals(signum).name if signum in signal.valid_signals() else "signal"
        return Outcome.failed(
            DIRTY_EXIT,
            f"Child process received unhandled signal pid {pid} {name} (signal {signum})",
        )
    code = os.WEXITSTATUS(result.status) if os.WIFEXITED(result.status) else result.status
    return Outcome.failed(
        DIRTY_EXIT, f"Child process exited with status {code} (pid {pid}) without finishing the job"
    )
