"""``resque-worker``: parse the configuration, import the job modules, run the loop.

Forking mode starts the fork server (zygote) here, before anything imports
redis-py, so the process that forks every job child stays small (see zygote.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resque_proto import health
from resque_proto.logs import configure
from resque_worker.config import ConfigError, load
from resque_worker.registry import JobModuleError, JobRegistry


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

        return Worker(config, registry, zygote).run()
    from resque_worker.inprocess import InProcessWorker

    return InProcessWorker(config, registry).run()


if __name__ == "__main__":
    sys.exit(main())
