"""Scheduler configuration: environment variables, each also a command-line flag.

Every value is checked here, so a bad setting stops the scheduler at start with
one line saying which and why.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resque_proto.connection import DEFAULT_REDIS_URL
from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.redis_config import RedisConfigError, RedisSettings
from resque_proto.settings import LOG_FORMATS, EnvSettings, LogSettings, SettingError
from resque_proto.version import add_version_flag

DEFAULT_LOCK_TIMEOUT = 15
HEALTH_MAX_AGE = 15.0


class ConfigError(SettingError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Config:
    redis_url: str
    namespace: str
    schedule_file: str | None
    env: str | None
    lock_timeout: int
    fallback_poll: float
    health_file: str | None
    logs: LogSettings
    health_check: bool = False
    redis: RedisSettings | None = None  # None: from redis_url alone


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resque-scheduler",
        description="Move due delayed jobs onto their queues and enqueue recurring jobs, "
        "in resque-scheduler's Redis layout. Each flag defaults to its environment variable.",
    )

    def option(flag: str, env: str, default: str | None, text: str) -> None:
        parser.add_argument(flag, default=environ.get(env) or default, help=f"{text} [{env}]")

    option("--redis-url", "REDIS_URL", None,
           f"Redis URL (default {DEFAULT_REDIS_URL}): redis://, rediss:// (TLS) or "
           "redis+sentinel://; REDIS_URL_FILE, REDIS_PASSWORD(_FILE), REDIS_TLS_*, "
           "REDIS_SENTINELS... in docs/redis.md")  # fmt: skip
    option("--namespace", "RESQUE_NAMESPACE", DEFAULT_NAMESPACE, "key prefix, as Resque's")
    option("--schedule", "RESQUE_SCHEDULE", None, "YAML file of recurring schedules")
    option("--env", "RESQUE_SCHEDULER_ENV", None, "load only entries whose rails_env/env match")
    option("--lock-timeout", "RESQUE_SCHEDULER_LOCK_TIMEOUT", str(DEFAULT_LOCK_TIMEOUT),
           "seconds the leader lock outlives a dead leader")  # fmt: skip
    option("--poll", "RESQUE_SCHEDULER_POLL", "1.0",
           "seconds between checks when Redis keyspace notifications are unavailable")  # fmt: skip
    option("--health-file", "RESQUE_HEALTH_FILE", None, "file touched while the loop is alive")
    parser.add_argument("--log-format", help="json or text (default: json unless stderr "
                        "is a terminal) [RESQUE_LOG_FORMAT]; level: RESQUE_LOG_LEVEL")  # fmt: skip
    parser.add_argument("--health-check", action="store_true",
                        help="exit 0 if the health file is fresh, else 1 (for probes)")  # fmt: skip
    add_version_flag(parser)
    return parser


def _number(name: str, value: str, low: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if not number >= low:
        raise ConfigError(f"{name}={value!r} must be at least {low}")
    return number


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    args = _parser(environ).parse_args(argv)
    flag_url = args.redis_url if args.redis_url != environ.get("REDIS_URL") else None
    try:
        redis = RedisSettings.from_env(environ, url=flag_url)
    except RedisConfigError as error:
        raise ConfigError(str(error)) from None
    logs = EnvSettings(environ).logs()  # a bad RESQUE_LOG_*/VERBOSE is a SettingError
    if args.log_format is not None:
        if args.log_format.lower() not in LOG_FORMATS:
            raise ConfigError(f"--log-format={args.log_format!r} must be json or text")
        logs = dataclasses.replace(logs, format=args.log_format.lower())
    lock_timeout = _number("RESQUE_SCHEDULER_LOCK_TIMEOUT", args.lock_timeout, 3)
    if lock_timeout != int(lock_timeout):
        raise ConfigError(f"RESQUE_SCHEDULER_LOCK_TIMEOUT={args.lock_timeout!r} must be whole")
    return Config(
        redis_url=redis.url,
        redis=redis,
        namespace=args.namespace,
        schedule_file=args.schedule or None,
        env=args.env or None,
        lock_timeout=int(lock_timeout),
        fallback_poll=_number("RESQUE_SCHEDULER_POLL", args.poll, 0.01),
        health_file=args.health_file or None,
        logs=logs,
        health_check=args.health_check,
    )
