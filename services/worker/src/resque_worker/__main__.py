"""``resque-worker``: parse the configuration, import the job modules, run the loop.

Forking mode starts the fork server (zygote) here, before anything imports
redis-py, so the process that forks every job child stays small (see zygote.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from resque_proto import health
from resque_proto.logs import configure
from resque_worker.config import ConfigError, load
from resque_worker.registry import JobModuleError, JobRegistry

if TYPE_CHECKING:
    from resque_worker.worker import Worker


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load(argv)
    except ConfigError as error:
        print(f"resque-worker: {error}", file=sys.stderr)
        return 2
    if config.health_check:
        return health.check(config.health_file, config.heartbeat_interval)
    configure(config.log_format)
    try:
        registry = JobRegistry.from_modules(config.job_modules)
    except JobModuleError as error:
        print(f"resque-worker: {error}", file=sys.stderr)
        return 2
    registry.run_hooks("before_first_fork")
    if config.fork_per_job:
        from resque_worker.zygote_client import ZygoteClient

        zygote = ZygoteClient.fork(registry, config.procline_prefix)
        from resque_worker.worker import Worker  # imports redis-py: after the fork

        worker = Worker(config, registry, zygote)
        if not redis_usable(worker):
            zygote.close()
            return 2
        return worker.run()
    from resque_worker.inprocess import InProcessWorker

    in_process = InProcessWorker(config, registry)
    return in_process.run() if redis_usable(in_process) else 2


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
