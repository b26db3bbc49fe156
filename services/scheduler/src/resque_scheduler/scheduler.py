"""The scheduler's loop: move due delayed jobs, lead or stand by, fire recurring jobs.

Every replica moves delayed jobs (each move is one atomic Lua call, so replicas
never double-enqueue); only the holder of the leader lock runs recurring
schedules. Between rounds the loop blocks until the earliest of: the next due
timestamp, the next recurring firing, the next lock renewal, or a keyspace
notification that a timestamp was added. Signal handlers only set a flag.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from types import FrameType

import redis
import setproctitle

from resque_proto import Resque, connect
from resque_proto.backoff import Backoff
from resque_proto.health import HealthFile
from resque_proto.leader import LeaderLock
from resque_proto.waiter import ScheduleWaiter
from resque_scheduler import __version__
from resque_scheduler.config import Config
from resque_scheduler.recurring_jobs import RecurringJobs

log = logging.getLogger("resque_scheduler")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT)
# Upper bound on one wait, so a stop signal is noticed within it.
MAX_WAIT = 0.5
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class Scheduler:
    def __init__(self, config: Config, schedule_file: dict[str, dict[str, object]] | None):
        self.config = config
        self.schedule_file = schedule_file
        self.resque = Resque(connect(config.redis or config.redis_url), config.namespace)
        self.lock = LeaderLock(self.resque.redis, self.resque.keys, config.lock_timeout)
        self.recurring = RecurringJobs(
            self.resque.schedules, self.lock.value, config.env, grace=config.lock_timeout + 2.0
        )
        self.health = HealthFile(config.health_file)
        self.backoff = Backoff()
        self.waiter: ScheduleWaiter | None = None
        self.leading = False
        self.stopping: str | None = None
        self.next_due = math.inf  # epoch s of the earliest delayed timestamp
        self.next_renewal = 0.0

    # -- lifecycle ------------------------------------------------------
    def run(self) -> int:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        self._title("Starting")
        log.info("scheduler starting", extra={"lock": self.lock.value})
        while not self.stopping:
            try:
                self._round()
                self.backoff.reset()
            except REDIS_ERRORS as error:
                self._lost_redis(error)
            except redis.ResponseError as error:
                # A refused command (NOPERM, a key of the wrong type): say so and
                # retry later rather than crash-looping.
                log.error("Redis refused a command: %s", error)
                self._pause()
        self._shut_down()
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = signal.Signals(signum).name

    def _shut_down(self) -> None:
        log.info("scheduler stopping", extra={"signal": self.stopping})
        try:
            if self.leading:
                self.lock.release()
        except REDIS_ERRORS:
            pass  # the lock then expires by itself
        if self.waiter is not None:
            self.waiter.close()

    def _lost_redis(self, error: Exception) -> None:
        log.warning("Redis unavailable; retrying with backoff", extra={"error": str(error)})
        if self.waiter is not None:
            self.waiter.close()
            self.waiter = None
        # after a failover no pooled socket may keep talking to the old primary
        self.resque.redis.connection_pool.disconnect()
        self.leading = False
        self.next_renewal = 0.0
        self._pause()

    def _pause(self) -> None:
        deadline = time.monotonic() + self.backoff.next_delay()
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(MAX_WAIT, max(0.0, deadline - time.monotonic())))

    # -- one round --------------------------------------------------------
    def _round(self) -> None:
        if self.waiter is None:
            self.waiter = ScheduleWaiter(self.resque.redis, self.resque.keys)
        self._move_due()
        now = time.time()
        if now >= self.next_renewal:
            self._lead_or_stand_by(now)
        if self.leading and not self.recurring.fire_due(now):
            self._step_down("the lock was taken")
        self.health.touch()
        self._wait(now)

    def _move_due(self) -> None:
        while not self.stopping:
            result = self.resque.delayed.move_due()
            if result.moved or result.invalid:
                log.info(
                    "moved due delayed jobs",
                    extra={"moved": result.moved, "invalid": result.invalid},
                )
            if result.invalid:
                log.error("%d delayed payloads were unreadable: see the failed list",
                          result.invalid)  # fmt: skip
            # Due times are Redis's clock; convert to ours for the wait.
            offset = time.time() - result.redis_time
            self.next_due = math.inf if result.next_due is None else result.next_due + offset
            if not result.full_batch:
                return

    def _lead_or_stand_by(self, now: float) -> None:
        self.next_renewal = now + self.config.lock_timeout / 3
        holds = self.lock.acquire_or_renew()
        if holds and not self.leading:
            self._take_over(now)
        elif not holds and self.leading:
            self._step_down("the lock expired or was taken")
        elif holds:
            self.recurring.reload_if_changed(now)

    def _take_over(self, now: float) -> None:
        self.leading = True
        if self.schedule_file is not None:
            self.resque.schedules.sync_file(self.schedule_file)
        self.recurring.load(now)
        self._title("Schedules Loaded")
        log.info("became the leader: running recurring schedules", extra={"lock": self.lock.value})

    def _step_down(self, why: str) -> None:
        self.leading = False
        self._title("Standing by")
        log.warning("no longer the leader: %s", why)

    def _wait(self, now: float) -> None:
        wake = min(self.next_due, self.next_renewal)
        if self.leading:
            wake = min(wake, self.recurring.next_fire(now))
        timeout = min(MAX_WAIT, max(0.0, wake - time.time()))
        if timeout > 0 and self.waiter is not None and not self.stopping:
            self.waiter.wait(timeout)

    def _title(self, what: str) -> None:
        role = "leader" if self.leading else "standby"
        setproctitle.setproctitle(f"resque-scheduler-{__version__}[{role}]: {what}")
