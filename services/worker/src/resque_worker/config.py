"""Worker configuration: Resque's environment variables, each also a command-line flag.

A flag wins over its environment variable; every value is read by
resque_proto.settings (the same words and checks as every part), so a bad setting
stops the worker at start with one line saying which and why.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resque_proto.connection import DEFAULT_REDIS_URL
from resque_proto.errors import ValidationError
from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.queue_patterns import parse_queue_list
from resque_proto.redis_config import RedisConfigError, RedisSettings
from resque_proto.retry import RetryPolicy, policy_from
from resque_proto.settings import EnvSettings, SettingError
from resque_proto.status import DEFAULT_TTL
from resque_proto.version import add_version_flag

NO_RETRY = RetryPolicy()


class ConfigError(SettingError):
    """A setting that cannot be used; the message names it."""


# Settings Ruby deployments set that change nothing here: named in a warning at start
# rather than ignored silently (docs/worker.md, "Resque's settings and hooks").
NO_EFFECT = {
    "MIN_INTERVAL": "idle waits are push-driven; INTERVAL only caps a wait",
    "MAX_INTERVAL": "idle waits are push-driven; INTERVAL only caps a wait",
    "BACKOFF_INTERVAL": "idle waits are push-driven; Redis outages back off by themselves",
    "JOBS_PER_FORK": "a plugin's setting (resque-multi-job-forks): one child per job here, "
    "or FORK_PER_JOB=false",
    "MINUTES_PER_FORK": "a plugin's setting (resque-multi-job-forks): one child per job here, "
    "or FORK_PER_JOB=false",
}


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
    run_at_exit_hooks: bool = False  # RUN_AT_EXIT_HOOKS: the child exits running atexit handlers
    log_level: int = logging.INFO
    pidfile: str | None = None
    background: bool = False
    concurrency: int = 1  # COUNT: worker processes under one supervisor (pool.py)
    no_effect: tuple[str, ...] = ()  # names of NO_EFFECT settings found in the environment

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
    ("--log-level", ("RESQUE_LOG_LEVEL",), None,
     "debug, info, warning or error (default: info; debug with Resque's VVERBOSE)"),
    ("--health-file", ("RESQUE_HEALTH_FILE",), None,
     "file touched at every heartbeat and idle loop, for --health-check"),
    ("--retry-limit", ("RESQUE_RETRY_LIMIT",), "0",
     "retries of a failed job whose class declares no retry policy (0: none, as Resque)"),
    ("--retry-delay", ("RESQUE_RETRY_DELAY",), "0", "seconds before such a retry"),
    ("--retry-backoff", ("RESQUE_RETRY_BACKOFF",), "fixed",
     "fixed, exponential (delay doubling, jittered) or comma-separated delays"),
    ("--status-ttl", ("RESQUE_STATUS_TTL",), str(DEFAULT_TTL),
     "seconds a job's status is kept after its last change; 0: none"),
    ("--concurrency", ("COUNT",), "1",
     "worker processes run under one supervisor that forwards signals (Resque's COUNT)"),
    ("--pidfile", ("PIDFILE",), None,
     "file to write the pid to (the supervisor's with COUNT > 1); removed at exit"),
    ("--background", ("BACKGROUND",), "",
     "detach as Resque's Process.daemon(true): new session, stdin/stdout/stderr to /dev/null"),
    ("--run-at-exit-hooks", ("RUN_AT_EXIT_HOOKS",), "",
     "job children run Python's atexit handlers before they exit (default: not, as Resque)"),
)  # fmt: skip


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's help formatter, told the terminal's width: left to find it itself,
    argparse imports shutil, and shutil zlib, bz2 and lzma, into the process that
    forks the zygote, so into the zygote and every job child: 30 more memory mappings
    copied by each fork (about 7% of a fork's cost, docs/benchmarks.md)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        width = int(columns)
    else:
        try:
            width = os.get_terminal_size().columns or 80  # 0: a terminal of unknown size
        except OSError:  # not a terminal
            width = 80
    return argparse.HelpFormatter(prog, width=width - 2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resque-worker",
        formatter_class=help_formatter,
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
        help="exit 0 iff RESQUE_HEALTH_FILE was touched within 3 heartbeat intervals "
        "(with COUNT > 1: every worker's file, RESQUE_HEALTH_FILE.<n>)",
    )
    add_version_flag(parser)
    return parser


def _effective_env(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each option's value under its first name: the flag if given, else
    the first non-empty variable, else the default (an empty variable counts as unset)."""
    effective = dict(env)
    for flag, names, default, _ in OPTIONS:
        given = getattr(args, flag[2:].replace("-", "_"))
        from_env = next((env[n] for n in names if env.get(n)), None)
        value = given if given is not None else (from_env or default)
        if value is None:
            effective.pop(names[0], None)
        else:
            effective[names[0]] = value
    return effective


def load(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Parse flags and environment into a Config; raises ConfigError with one line."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    try:
        return _config(args, env)
    except SettingError as error:
        raise ConfigError(str(error)) from None


def _config(args: argparse.Namespace, env: Mapping[str, str]) -> Config:
    settings = EnvSettings(_effective_env(args, env))
    queues = tuple(parse_queue_list(settings.text("QUEUES", "") or ""))
    if not queues and not args.health_check:
        raise ConfigError("no queues: set QUEUES (or QUEUE, or --queues), e.g. QUEUES=high,low")
    try:
        redis = RedisSettings.from_env(env, url=args.redis_url)
    except RedisConfigError as error:
        raise ConfigError(str(error)) from None
    logs = settings.logs()
    return Config(
        redis_url=redis.url,
        redis=redis,
        namespace=settings.text("RESQUE_NAMESPACE", DEFAULT_NAMESPACE) or DEFAULT_NAMESPACE,
        queues=queues,
        job_modules=settings.items("RESQUE_JOBS"),
        interval=0.0 if args.burst else settings.number("INTERVAL", 5.0, 0.0),
        fork_per_job=settings.boolean("FORK_PER_JOB", True),
        term_child=settings.boolean("TERM_CHILD", False),
        term_timeout=settings.number("RESQUE_TERM_TIMEOUT", 4.0, 0.0),
        pre_shutdown_timeout=settings.number("RESQUE_PRE_SHUTDOWN_TIMEOUT", 0.0, 0.0),
        graceful_term=settings.boolean("GRACEFUL_TERM", False),
        procline_prefix=settings.env.get("RESQUE_PROCLINE_PREFIX", ""),
        job_timeout=settings.number("RESQUE_JOB_TIMEOUT", 0.0, 0.0),
        heartbeat_interval=settings.number("RESQUE_HEARTBEAT_INTERVAL", 5.0, 0.1),
        prune_after=settings.number("RESQUE_PRUNE_AFTER", 30.0, 1.0),
        prune_interval=settings.number("RESQUE_PRUNE_INTERVAL", 10.0, 0.5),
        max_redeliveries=settings.integer("RESQUE_MAX_REDELIVERIES", 3, 0),
        log_format=logs.format,
        log_level=logs.level,
        health_file=settings.text("RESQUE_HEALTH_FILE"),
        health_check=bool(args.health_check),
        retry_policy=_retry_policy(settings),
        status_ttl=settings.integer("RESQUE_STATUS_TTL", DEFAULT_TTL, 0),
        run_at_exit_hooks=settings.boolean("RUN_AT_EXIT_HOOKS", False),
        pidfile=settings.text("PIDFILE"),
        background=settings.boolean("BACKGROUND", False),
        concurrency=settings.integer("COUNT", 1, 1),
        no_effect=tuple(name for name in NO_EFFECT if env.get(name, "").strip()),
    )


def _retry_policy(settings: EnvSettings) -> RetryPolicy:
    """The default policy, for job classes that declare none."""
    backoff_text = settings.text("RESQUE_RETRY_BACKOFF", "fixed") or "fixed"
    backoff: str | list[float] = backoff_text
    if backoff_text not in ("fixed", "exponential"):
        backoff = _delays(backoff_text)
    policy = {
        "limit": settings.integer("RESQUE_RETRY_LIMIT", 0, 0),
        "delay": settings.number("RESQUE_RETRY_DELAY", 0.0, 0.0),
        "backoff": backoff,
    }
    try:
        return policy_from(policy)
    except ValidationError as error:
        raise ConfigError(f"RESQUE_RETRY_{error.field.upper()} {error.message}") from None


def _delays(text: str) -> list[float]:
    """``5,60,600``: each item a number of seconds; an empty item is an error."""
    name = "RESQUE_RETRY_BACKOFF"
    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise ConfigError(f"{name}={text!r} has an empty delay")
    return [EnvSettings({name: item}).number(name, 0.0, 0.0) for item in items]
