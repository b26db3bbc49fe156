"""``FORK_PER_JOB=false``: run each job inside the worker process, as Resque can.

Faster (no fork) but with Resque's trade-offs: a job that leaks memory or crashes
the interpreter takes the worker with it, and RESQUE_JOB_TIMEOUT cannot be
enforced. One heartbeat thread keeps the worker alive in Redis's eyes during
long jobs (there is no fork here, so a thread is safe). With ``TERM_CHILD``, TERM
and INT raise ``TermException`` inside the running job, as in Resque; otherwise
the job finishes first. There is no child, so ``before_fork``/``after_fork`` do
not run, the signal hooks (``shutdown``, pause) run once the job has finished,
and ``RUN_AT_EXIT_HOOKS`` changes nothing: ``atexit`` handlers run when the
worker process exits, as Ruby's do without fork.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import redis

from resque_proto import Reserved, Resque, connect
from resque_proto.payload import Job
from resque_worker.child import run_job
from resque_worker.config import Config
from resque_worker.errors import TermException
from resque_worker.outcome import Outcome
from resque_worker.registry import JobRegistry
from resque_worker.worker import Worker


class InProcessWorker(Worker):
    def __init__(self, config: Config, registry: JobRegistry) -> None:
        super().__init__(config, registry)
        self._busy = threading.Event()
        self._beater: threading.Thread | None = None

    def execute(self, reserved: Reserved, job: Job, job_class: type, title: str) -> Outcome | None:
        with self._heartbeating(), self._term_raises():
            outcome = run_job(self.registry, job_class, job, forked=False)
        if self.flags.shutdown and outcome.interrupted:
            return None
        return outcome

    @contextmanager
    def _term_raises(self) -> Iterator[None]:
        if not self.config.term_child:
            yield
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            self.flags.shutdown = True
            self.flags.shutdown_reason = signal.Signals(signum).name
            raise TermException(signal.Signals(signum).name)

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @contextmanager
    def _heartbeating(self) -> Iterator[None]:
        """Mark a job as running for the heartbeat thread (started on the first job)."""
        if self._beater is None:
            self._beater = threading.Thread(target=self._beat_while_busy, daemon=True)
            self._beater.start()
        self._busy.set()
        try:
            yield
        finally:
            self._busy.clear()

    def _beat_while_busy(self) -> None:
        """Heartbeat on its own connection while a job runs; the loop beats when idle."""
        resque = Resque(
            connect(self.config.redis or self.config.redis_url, socket_timeout=5.0),
            self.config.namespace,
        )
        while True:
            self._busy.wait()
            time.sleep(self.config.heartbeat_interval)
            if not self._busy.is_set():
                continue
            try:
                resque.workers.heartbeat(self.id)
                self.health.touch()
            except redis.RedisError as error:
                self.log.warning("heartbeat failed", extra={"error": str(error)})
