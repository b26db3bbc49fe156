"""``resque-worker``: parse the configuration, import the job modules, run the loop.

Forking mode starts the fork server (zygote) here, before anything imports
redis-py, so the process that forks every job child stays small (see zygote.py).
With ``COUNT``/``--concurrency`` above 1 this process supervises that many
workers instead (pool.py).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from resque_proto import health
from resque_proto.logs import configure
from resque_proto.settings import SettingError
from resque_worker.config import NO_EFFECT, Config, ConfigError, load
from resque_worker.detach import daemonize, pid_file
from resque_worker.registry import JobModuleError, JobRegistry

if TYPE_CHECKING:
    from resque_worker.worker import Worker

NO_PIDFD = (
    "FORK_PER_JOB needs Linux's pidfd (os.pidfd_open, Linux 5.3 or later), which this "
    "platform lacks: set FORK_PER_JOB=false to run the jobs in the worker process"
)

log = logging.getLogger("resque_worker")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        config = load(argv)
        if config.fork_per_job and not config.health_check and not pidfd_available():
            raise ConfigError(NO_PIDFD)
    except ConfigError as error:
        print(f"resque-worker: {error}", file=sys.stderr)
        return 2
    if config.health_check:
        return health_check(config)
    configure(config.log_format, config.log_level)
    for name in config.no_effect:
        log.warning(f"{name} has no effect here: {NO_EFFECT[name]}", extra={"setting": name})
    if config.concurrency > 1:
        from resque_worker.pool import Pool

        if config.background:
            daemonize()
        with pid_file(config.pidfile):
            return Pool(config, argv).run()
    return run_worker(config)


def run_worker(config: Config) -> int:
    try:
        registry = JobRegistry.from_modules(config.job_modules)
    except JobModuleError as error:
        print(f"resque-worker: {error}", file=sys.stderr)
        return 2
    if config.background:
        daemonize()  # before the worker id (its pid) exists and before the zygote
    with pid_file(config.pidfile):
        registry.run_hooks("before_first_fork")
        if config.fork_per_job:
            return run_forking(config, registry)
        from resque_worker.inprocess import InProcessWorker

        try:
            in_process = InProcessWorker(config, registry)
        except SettingError as error:  # the failure notifiers' settings
            print(f"resque-worker: {error}", file=sys.stderr)
            return 2
        return in_process.run() if redis_usable(in_process) else 2


def run_forking(config: Config, registry: JobRegistry) -> int:
    from resque_worker.zygote_client import ZygoteClient

    zygote = ZygoteClient.fork(registry, config.procline_prefix)
    from resque_worker.worker import Worker  # imports redis-py: after the fork

    try:
        worker = Worker(config, registry, zygote)
    except SettingError as error:  # the failure notifiers' settings
        print(f"resque-worker: {error}", file=sys.stderr)
        zygote.close()
        return 2
    if not redis_usable(worker):
        zygote.close()
        return 2
    return worker.run()


def pidfd_available() -> bool:
    """Can this process open a pidfd? The zygote reaps job children through one."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # ENOSYS: a kernel older than 5.3
        return False
    return True


def health_check(config: Config) -> int:
    """0 iff the health file is fresh; with a pool, every worker's (pool.py names them)."""
    if config.concurrency == 1:
        return health.check(config.health_file, config.heartbeat_interval)
    from resque_worker.pool import health_file_of

    files = [health_file_of(config, n) for n in range(1, config.concurrency + 1)]
    return max(health.check(path, config.heartbeat_interval) for path in files)


def redis_usable(worker: Worker) -> bool:
    """May the Redis user do what a worker does? If not, one line and exit 2."""
    from resque_proto.permissions import StartupError, check_permissions
    from resque_proto.redis_config import RedisSettings

    config = worker.config
    settings = config.redis or RedisSettings.from_url(config.redis_url)
    try:
        warning = check_permissions(
            worker.resque.redis, "worker", "resque-worker", settings, config.namespace
        )
    except StartupError as error:
        print(error, file=sys.stderr)
        return False
    if warning:
        worker.log.warning(warning)
    return True


if __name__ == "__main__":
    sys.exit(main())
