"""``resque-scheduler``: check the configuration and the schedule file, then run."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resque_proto import health
from resque_proto.logs import configure
from resque_scheduler.config import HEALTH_MAX_AGE, ConfigError, load
from resque_scheduler.schedule_file import ScheduleFileError, load_schedule_file


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load(argv)
        if config.health_check:
            return health.check(config.health_file, HEALTH_MAX_AGE / 3)
        schedule = (
            load_schedule_file(config.schedule_file, config.env) if config.schedule_file else None
        )
    except (ConfigError, ScheduleFileError) as error:
        print(f"resque-scheduler: {error}", file=sys.stderr)
        return 2
    configure(config.log_format)
    from resque_scheduler.scheduler import Scheduler

    return Scheduler(config, schedule).run()


if __name__ == "__main__":
    sys.exit(main())
