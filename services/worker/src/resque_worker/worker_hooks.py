"""Resque's worker lifecycle hooks, run in the worker process (never the zygote or a child).

``before_pause(worker)``/``after_pause(worker)`` and ``shutdown()`` are what
Resque runs from its USR2/CONT and QUIT/TERM/INT signal handlers. Our handlers
only set flags (``signals.py``), so these run as soon as the worker sees the
flag: at the top of its loop, or while it waits on a running job (its wait wakes
on every signal). ``queue_empty()`` runs once each time the worker goes from
working to finding no job (or being paused), as Resque's ``state_change``;
``worker_exit()`` runs last, when the worker leaves its loop (signal, burst
mode's end, or a crash).

A hook that raises is logged with its traceback and the worker carries on: a
hook must not be able to stop job processing (later hooks of the same name,
from modules further down ``RESQUE_JOBS``, are skipped, as in Resque).
"""

from __future__ import annotations

import logging
from typing import Any

from resque_worker.registry import JobRegistry
from resque_worker.signals import SignalFlags
from resque_worker.supervisor import ChildWatch


class WorkerHooks:
    def __init__(
        self, registry: JobRegistry, flags: SignalFlags, log: logging.LoggerAdapter[Any]
    ) -> None:
        self.registry = registry
        self.flags = flags
        self.log = log
        self.busy = False  # Resque's @last_state == :working
        self.paused = False  # the USR2/CONT state the pause hooks last saw
        self.shutdown_ran = False

    def run(self, name: str, *args: Any) -> None:
        try:
            self.registry.run_hooks(name, *args)
        except Exception:
            self.log.exception(f"a {name} hook raised", extra={"hook": name})

    def after_signals(self, worker: object) -> None:
        """Run the hooks Resque runs in its signal handlers, for signals seen since the
        last call: ``shutdown`` once, the pause hooks once per pause/resume."""
        if self.flags.shutdown and not self.shutdown_ran:
            self.shutdown_ran = True
            self.run("shutdown")
        if self.flags.paused != self.paused:
            self.paused = self.flags.paused
            self.run("before_pause" if self.paused else "after_pause", worker)

    def job_started(self) -> None:
        self.busy = True

    def no_job(self) -> None:
        """The worker found no job (or is paused): ``queue_empty`` if it was working."""
        if self.busy:
            self.busy = False
            self.run("queue_empty")


class HookedChildWatch(ChildWatch):
    """A ``ChildWatch`` that runs the signal hooks while the job runs, as Resque's
    signal handlers run them whatever the worker is doing."""

    def __init__(self, *args: Any, hooks: WorkerHooks, worker: object, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks = hooks
        self.worker = worker

    def _act_on_signals(self, now: float) -> None:
        super()._act_on_signals(now)
        self.hooks.after_signals(self.worker)
