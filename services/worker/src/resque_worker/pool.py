"""``COUNT=N`` / ``--concurrency N``: N workers in one process tree, for hosts without
an orchestrator (Resque's ``rake resque:workers`` runs COUNT ``resque:work`` processes).

The supervisor holds no Redis connection and no job code. It starts each worker as
``python -m resque_worker`` with its own command line plus ``--concurrency 1`` (worker
n's health file is ``RESQUE_HEALTH_FILE.<n>``) and forwards QUIT, TERM, INT, USR1,
USR2 and CONT to every worker, which acts on them as a lone worker would. A worker
that dies unexpectedly (a signal, a crash: any exit status but 0 and 2) is restarted
after a backoff (1 s doubling to 60 s, reset once it has run a minute) unless the pool
is shutting down; one that exits 0 (burst done, or stopped by a signal sent to it
alone) or 2 (a setting or Redis permission it cannot work with) is not. The
supervisor exits when every worker has: 0 if each last exit was 0, 2 if one was 2,
else 1. Workers get TERM if the supervisor dies (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from resque_proto.backoff import Backoff
from resque_worker.child import LIBC, PR_SET_PDEATHSIG
from resque_worker.config import NO_EFFECT, Config
from resque_worker.proctitle import ProcTitle
from resque_worker.signals import HANDLED

FORWARDED = HANDLED  # every signal a worker acts on
SHUTDOWN = frozenset({signal.SIGQUIT, signal.SIGTERM, signal.SIGINT})
NOT_RESTARTED = frozenset({0, 2})  # finished / refused to start
STABLE_AFTER = 60.0  # seconds a worker must run before its restart backoff starts over

log = logging.getLogger("resque_worker.pool")


def health_file_of(config: Config, number: int) -> str | None:
    """Worker ``number``'s health file (1-based), derived from RESQUE_HEALTH_FILE."""
    return f"{config.health_file}.{number}" if config.health_file else None


@dataclass
class Slot:
    """One worker position in the pool; its process changes when it is restarted."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float | None = None
    last_status: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=60.0))


class Pool:
    def __init__(self, config: Config, argv: Sequence[str]) -> None:
        self.config = config
        self.argv = list(argv)
        self.slots = [Slot(n) for n in range(1, config.concurrency + 1)]
        self.pending: list[int] = []
        self.shutting_down = False
        self.wakeup_read, self._wakeup_write = os.pipe()
        for fd in (self.wakeup_read, self._wakeup_write):
            os.set_blocking(fd, False)

    def run(self) -> int:
        """Start the workers, supervise them until all have exited; the exit status."""
        self._install_handlers()
        ProcTitle(self.config.procline_prefix).set(f"Pool of {len(self.slots)} workers")
        for slot in self.slots:
            self._start(slot)
        log.info(
            "pool started", extra={"workers": [s.process.pid for s in self.slots if s.process]}
        )
        while any(s.process is not None or s.restart_at is not None for s in self.slots):
            self._wait()
            self._forward_signals()
            self._reap()
            self._restart_due()
        statuses = {slot.last_status for slot in self.slots}
        log.info("pool stopped", extra={"statuses": sorted(statuses)})
        return 0 if statuses == {0} else 2 if 2 in statuses else 1

    def _install_handlers(self) -> None:
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for signum in FORWARDED:
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes _wait

    def _on_signal(self, signum: int, frame: object) -> None:
        self.pending.append(signum)

    def _start(self, slot: Slot) -> None:
        command = [sys.executable, "-m", "resque_worker", *self.argv, "--concurrency", "1",
                   "--background", "false", "--pidfile", ""]  # fmt: skip
        health_file = health_file_of(self.config, slot.number)
        if health_file:
            command += ["--health-file", health_file]
        env = {k: v for k, v in os.environ.items() if k not in NO_EFFECT}  # warned once, here
        # preexec_fn is safe here: the supervisor runs no threads.
        slot.process = subprocess.Popen(command, env=env, preexec_fn=_die_with(os.getpid()))
        slot.started = time.monotonic()
        slot.restart_at = None

    def _wait(self) -> None:
        restarts = [s.restart_at for s in self.slots if s.restart_at is not None]
        timeout = 1.0 if not restarts else max(0.0, min(restarts) - time.monotonic())
        select.select([self.wakeup_read], [], [], min(timeout, 1.0))
        try:
            while os.read(self.wakeup_read, 512):
                pass
        except BlockingIOError:
            pass

    def _forward_signals(self) -> None:
        pending, self.pending = self.pending, []
        for signum in pending:
            if signum in SHUTDOWN and not self.shutting_down:
                self.shutting_down = True
                for slot in self.slots:
                    slot.restart_at = None
            name = signal.Signals(signum).name
            log.info(f"{name} received; forwarding it to the workers", extra={"signal": name})
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is None:
                    slot.process.send_signal(signum)

    def _reap(self) -> None:
        for slot in self.slots:
            if slot.process is None or (status := slot.process.poll()) is None:
                continue
            pid, slot.process = slot.process.pid, None
            slot.last_status = status
            if self.shutting_down or status in NOT_RESTARTED:
                log.info("worker exited", extra={"worker_pid": pid, "status": status})
                continue
            if time.monotonic() - slot.started >= STABLE_AFTER:
                slot.backoff.reset()
            delay = slot.backoff.next_delay()
            slot.restart_at = time.monotonic() + delay
            log.warning(
                "worker exited unexpectedly; restarting it",
                extra={"worker_pid": pid, "status": status, "restart_in": round(delay, 2)},
            )

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and slot.restart_at <= now and not self.shutting_down:
                self._start(slot)


def _die_with(supervisor: int) -> Callable[[], None]:
    """Run in each worker before exec: TERM it when the supervisor dies (Linux)."""

    def setup() -> None:
        if LIBC is not None:
            LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != supervisor:  # it died before prctl took effect
            os._exit(1)

    return setup
