"""Worker configuration: Resque's environment variables, each also a command-line flag.

A flag wins over its environment variable; every value is checked here, so a bad
setting stops the worker at start with one line saying which and why.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resque_proto.connection import DEFAULT_REDIS_URL
from resque_proto.errors import ValidationError
from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.queue_patterns import parse_queue_list
from resque_proto.redis_config import RedisConfigError, RedisSettings
from resque_proto.retry import RetryPolicy, policy_from
from resque_proto.settings import BooleanSettingError, parse_bool
from resque_proto.status import DEFAULT_TTL

NO_RETRY = RetryPolicy()


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Config:
    redis_url: str
    namespace: str
    queues: tuple[str, ...]
    job_modules: tuple[str, ...]
    interval: float
    fork_per_job: bool
    term_child: bool
    term_timeout: float
    pre_shutdown_timeout: float
    graceful_term: bool
    procline_prefix: str
    job_timeout: float
    heartbeat_interval: float
    prune_after: float
    prune_interval: float
    max_redeliveries: int
    log_format: str
    health_file: str | None
    health_check: bool = False
    retry_policy: RetryPolicy = NO_RETRY
    status_ttl: int = DEFAULT_TTL
    redis: RedisSettings | None = None  # None: from redis_url alone

    @property
    def burst(self) -> bool:
        """``INTERVAL=0``: work until the queues are empty, then exit."""
        return self.interval == 0


# (flag, environment variables, default, help). Defaults are strings, parsed like env values.
OPTIONS: tuple[tuple[str, tuple[str, ...], str | None, str], ...] = (
    ("--redis-url", ("REDIS_URL",), DEFAULT_REDIS_URL,
     "Redis URL: redis://, rediss:// (TLS) or redis+sentinel://; REDIS_URL_FILE, "
     "REDIS_PASSWORD(_FILE), REDIS_TLS_*, REDIS_SENTINELS... in docs/redis.md"),
    ("--namespace", ("RESQUE_NAMESPACE",), DEFAULT_NAMESPACE, "key prefix, as Resque's"),
    ("--queues", ("QUEUES", "QUEUE"), None,
     "queues in priority order, comma-separated; * and globs, !name skips (required)"),
    ("--jobs", ("RESQUE_JOBS",), "", "comma-separated Python modules holding the job classes"),
    ("--interval", ("INTERVAL",), "5",
     "Resque's poll interval in seconds; idle waits are push-driven anyway; 0 = burst"),
    ("--fork-per-job", ("FORK_PER_JOB",), "true", "fork a child per job (false: in-process)"),
    ("--term-child", ("TERM_CHILD",), "", "on TERM/USR1 send the child TERM before KILL"),
    ("--term-timeout", ("RESQUE_TERM_TIMEOUT",), "4",
     "seconds between the child's TERM and KILL (with TERM_CHILD)"),
    ("--pre-shutdown-timeout", ("RESQUE_PRE_SHUTDOWN_TIMEOUT",), "0",
     "seconds to let the child finish before sending it TERM (with TERM_CHILD)"),
    ("--graceful-term", ("GRACEFUL_TERM",), "", "TERM behaves like QUIT (finish the job)"),
    ("--procline-prefix", ("RESQUE_PROCLINE_PREFIX",), "", "prefix of the process titles"),
    ("--job-timeout", ("RESQUE_JOB_TIMEOUT",), "0",
     "seconds a job may run before it is killed and failed; 0 = no limit"),
    ("--heartbeat-interval", ("RESQUE_HEARTBEAT_INTERVAL",), "5", "seconds between heartbeats"),
    ("--prune-after", ("RESQUE_PRUNE_AFTER",), "30",
     "seconds of heartbeat silence after which one of our workers counts as dead"),
    ("--prune-interval", ("RESQUE_PRUNE_INTERVAL",), "10",
     "seconds between runs of the dead-worker pruner"),
    ("--max-redeliveries", ("RESQUE_MAX_REDELIVERIES",), "3",
     "times a job is recovered from dead workers before it becomes a failure"),
    ("--log-format", ("RESQUE_LOG_FORMAT",), None,
     "json or text (default: json unless stderr is a terminal)"),
    ("--health-file", ("RESQUE_HEALTH_FILE",), None,
     "file touched at every heartbeat and idle loop, for --health-check"),
    ("--retry-limit", ("RESQUE_RETRY_LIMIT",), "0",
     "retries of a failed job whose class declares no retry policy (0: none, as Resque)"),
    ("--retry-delay", ("RESQUE_RETRY_DELAY",), "0", "seconds before such a retry"),
    ("--retry-backoff", ("RESQUE_RETRY_BACKOFF",), "fixed",
     "fixed, exponential (delay doubling, jittered) or comma-separated delays"),
    ("--status-ttl", ("RESQUE_STATUS_TTL",), str(DEFAULT_TTL),
     "seconds a job's status is kept after its last change; 0: none"),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resque-worker",
        description="Resque 3.0 compatible worker: reserves jobs reliably and forks a child "
        "per job. Every option can also be set by the environment variable shown.",
        epilog="Signals: QUIT finish the job then exit; TERM/INT stop the job (back on its "
        "queue) then exit; USR1 stop the job (failure record), keep working; USR2/CONT "
        "pause/resume.",
    )
    for flag, names, default, text in OPTIONS:
        shown = f" [default: {default}]" if default else ""
        parser.add_argument(flag, default=None, help=f"{text}; env {'/'.join(names)}{shown}")
    parser.add_argument(
        "--burst", action="store_true", help="process until the queues are empty, then exit"
    )
    parser.add_argument(
        "--health-check",
        action="store_true",
        help="exit 0 iff RESQUE_HEALTH_FILE was touched within 3 heartbeat intervals",
    )
    return parser


def _raw_settings(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for flag, names, default, _ in OPTIONS:
        key = flag[2:].replace("-", "_")
        given = getattr(args, key)
        from_env = next((env[n] for n in names if env.get(n)), None)
        values[key] = given if given is not None else (from_env or default)
    return values


def _number(name: str, value: str | None, minimum: float = 0.0) -> float:
    try:
        number = float(value or "")
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if number < minimum or number != number:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {value!r}")
    return number


def _flag(name: str, value: str | None) -> bool:
    """resque_proto.settings' words (as every part); anything else is an error."""
    try:
        return parse_bool(name, value or "")
    except BooleanSettingError as error:
        raise ConfigError(str(error)) from None


def load(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Parse flags and environment into a Config; raises ConfigError with one line."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    raw = _raw_settings(args, env)
    queues = tuple(parse_queue_list(raw["queues"] or ""))
    if not queues and not args.health_check:
        raise ConfigError("no queues: set QUEUES (or QUEUE, or --queues), e.g. QUEUES=high,low")
    log_format = (raw["log_format"] or ("text" if sys.stderr.isatty() else "json")).lower()
    if log_format not in {"json", "text"}:
        raise ConfigError(f"RESQUE_LOG_FORMAT must be json or text, got {log_format!r}")
    redeliveries = _number("RESQUE_MAX_REDELIVERIES", raw["max_redeliveries"])
    if redeliveries != int(redeliveries):
        raise ConfigError(f"RESQUE_MAX_REDELIVERIES must be a whole number, got {redeliveries}")
    try:
        redis = RedisSettings.from_env(env, url=args.redis_url)
    except RedisConfigError as error:
        raise ConfigError(str(error)) from None
    return Config(
        redis_url=redis.url,
        redis=redis,
        namespace=raw["namespace"] or DEFAULT_NAMESPACE,
        queues=queues,
        job_modules=tuple(parse_queue_list(raw["jobs"] or "")),
        interval=0.0 if args.burst else _number("INTERVAL", raw["interval"]),
        fork_per_job=_flag("FORK_PER_JOB", raw["fork_per_job"]),
        term_child=_flag("TERM_CHILD", raw["term_child"]),
        term_timeout=_number("RESQUE_TERM_TIMEOUT", raw["term_timeout"]),
        pre_shutdown_timeout=_number("RESQUE_PRE_SHUTDOWN_TIMEOUT", raw["pre_shutdown_timeout"]),
        graceful_term=_flag("GRACEFUL_TERM", raw["graceful_term"]),
        procline_prefix=raw["procline_prefix"] or "",
        job_timeout=_number("RESQUE_JOB_TIMEOUT", raw["job_timeout"]),
        heartbeat_interval=_number("RESQUE_HEARTBEAT_INTERVAL", raw["heartbeat_interval"], 0.1),
        prune_after=_number("RESQUE_PRUNE_AFTER", raw["prune_after"], 1.0),
        prune_interval=_number("RESQUE_PRUNE_INTERVAL", raw["prune_interval"], 0.5),
        max_redeliveries=int(redeliveries),
        log_format=log_format,
        health_file=raw["health_file"] or None,
        health_check=bool(args.health_check),
        retry_policy=_retry_policy(raw),
        status_ttl=int(_whole("RESQUE_STATUS_TTL", raw["status_ttl"])),
    )


def _whole(name: str, value: str | None) -> float:
    number = _number(name, value)
    if number != int(number):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return number


def _retry_policy(raw: Mapping[str, str | None]) -> RetryPolicy:
    """The default policy, for job classes that declare none."""
    backoff_text = (raw["retry_backoff"] or "fixed").strip()
    backoff: str | list[float] = backoff_text
    if backoff_text not in ("fixed", "exponential"):
        backoff = [_number("RESQUE_RETRY_BACKOFF", part) for part in backoff_text.split(",")]
    settings = {
        "limit": int(_whole("RESQUE_RETRY_LIMIT", raw["retry_limit"])),
        "delay": _number("RESQUE_RETRY_DELAY", raw["retry_delay"]),
        "backoff": backoff,
    }
    try:
        return policy_from(settings)
    except ValidationError as error:
        raise ConfigError(f"RESQUE_RETRY_{error.field.upper()} {error.message}") from None
