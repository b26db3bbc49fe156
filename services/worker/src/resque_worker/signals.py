"""Signal handling for the worker parent: handlers only set flags.

``signal.set_wakeup_fd`` writes a byte for every signal to a non-blocking pipe,
so a parent sleeping in ``poll``/``select`` on that pipe wakes immediately; the
loop then reads the flags and acts. Resque 3.0's meanings:

| signal | flag |
| QUIT | ``shutdown`` (finish the current job, then exit) |
| TERM | ``shutdown`` + ``stop_job`` (``GRACEFUL_TERM``: as QUIT) |
| INT  | ``shutdown`` + ``stop_job`` |
| USR1 | ``stop_job`` (kill the current job, keep working) |
| USR2 / CONT | ``paused`` on / off |
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCONT,
)


class SignalFlags:
    def __init__(self, graceful_term: bool = False) -> None:
        self.graceful_term = graceful_term
        self.shutdown = False
        self.shutdown_reason = ""
        self.stop_job: str | None = None  # name of the signal asking to stop the job
        self.paused = False
        self.wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)

    def install(self) -> None:
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for signum in HANDLED:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGQUIT or (signum == signal.SIGTERM and self.graceful_term):
            self._shut_down(name)
        elif signum in (signal.SIGTERM, signal.SIGINT):
            self._shut_down(name)
            self.stop_job = name
        elif signum == signal.SIGUSR1:
            self.stop_job = name
        elif signum == signal.SIGUSR2:
            self.paused = True
        elif signum == signal.SIGCONT:
            self.paused = False

    def _shut_down(self, name: str) -> None:
        if not self.shutdown:
            self.shutdown_reason = name
        self.shutdown = True

    def take_stop_job(self) -> str | None:
        """The pending request to stop the current job (signal name), consumed."""
        name, self.stop_job = self.stop_job, None
        return name

    def drain(self) -> None:
        try:
            while os.read(self.wakeup_read, 512):
                pass
        except BlockingIOError:
            pass

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; any signal ends it early."""
        if seconds > 0:
            select.select([self.wakeup_read], [], [], seconds)
        self.drain()


@contextmanager
def blocked_signals() -> Iterator[None]:
    """Hold the handled signals (they stay pending) across a fork: a signal landing in
    the child before it has reset its handlers would otherwise go to the forking
    process's handler (or be ignored) in the child, and be lost."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)


def default_handlers() -> None:
    """In a forked child: default handlers, no wakeup fd. Signals are still blocked
    (see ``blocked_signals``); the child unblocks them when ready."""
    signal.set_wakeup_fd(-1)
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_DFL)
