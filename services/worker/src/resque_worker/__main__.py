"""``resque-worker``: parse the configuration, import the job modules, run the loop."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resque_worker import health
from resque_worker.config import ConfigError, load
from resque_worker.logging_setup import configure
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
    if config.fork_per_job:
        from resque_worker.worker import Worker

        return Worker(config, registry).run()
    from resque_worker.inprocess import InProcessWorker

    return InProcessWorker(config, registry).run()


if __name__ == "__main__":
    sys.exit(main())
