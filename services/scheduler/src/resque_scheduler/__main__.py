"""``resque-scheduler``: check the configuration and the schedule file, then run."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resque_proto import health
from resque_proto.logs import configure
from resque_proto.settings import SettingError
from resque_scheduler.config import HEALTH_MAX_AGE, load
from resque_scheduler.schedule_file import ScheduleFileError, load_schedule_file


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load(argv)
        if config.health_check:
            return health.check(config.health_file, HEALTH_MAX_AGE / 3)
        schedule = (
            load_schedule_file(config.schedule_file, config.env) if config.schedule_file else None
        )
    except (SettingError, ScheduleFileError) as error:
        print(f"resque-scheduler: {error}", file=sys.stderr)
        return 2
    configure(config.logs)
    from resque_proto.permissions import StartupError, check_permissions
    from resque_proto.redis_config import RedisSettings
    from resque_scheduler.scheduler import Scheduler, log

    log.debug("configuration read", extra={"namespace": config.namespace})
    scheduler = Scheduler(config, schedule)
    try:  # may the Redis user do what the scheduler does? (docs/redis.md)
        warning = check_permissions(
            scheduler.resque.redis, "scheduler", "resque-scheduler",
            config.redis or RedisSettings.from_url(config.redis_url), config.namespace,
        )  # fmt: skip
    except StartupError as error:
        print(error, file=sys.stderr)
        return 2
    if warning:
        log.warning(warning)
    return scheduler.run()


if __name__ == "__main__":
    sys.exit(main())
