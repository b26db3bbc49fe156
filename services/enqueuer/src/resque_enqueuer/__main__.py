"""``resque-enqueuer``: check the configuration, then exec gunicorn with our config.

Extra arguments are passed to gunicorn unchanged (``resque-enqueuer --workers 4``).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Sequence

from resque_enqueuer.config import Config
from resque_enqueuer.envvars import ConfigError, ServerSettings, renamed_settings
from resque_proto import logs
from resque_proto.version import version_line

PROGRAM = "resque-enqueuer"
log = logging.getLogger("resque_enqueuer")

GUNICORN_CONFIG = "python:resque_enqueuer.gunicorn_conf"
APP = "resque_enqueuer.wsgi:app"

HELP = """usage: resque-enqueuer [--help | --version | gunicorn options...]

HTTP enqueue API for Resque-compatible jobs (gunicorn + gevent).
See docs/api.md. Environment:
  PORT                        listen port on 0.0.0.0 (default 8000)
  WEB_CONCURRENCY             gunicorn worker processes (default: CPU count)
  REDIS_URL                   default redis://localhost:6379/0; rediss:// (TLS),
                              redis+sentinel://host:26379,.../<master>; REDIS_URL_FILE,
                              REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS_*,
                              REDIS_SENTINELS, REDIS_SENTINEL_*: see docs/redis.md
  RESQUE_NAMESPACE            default resque
  ENQUEUER_TOKENS             comma-separated bearer tokens (none = open API, warned)
  ENQUEUER_TOKENS_FILE        or a file of them, one per line (not both)
  ENQUEUER_ALLOWED_QUEUES     comma-separated glob patterns of allowed queues
  ENQUEUER_ALLOWED_CLASSES    comma-separated glob patterns of allowed classes
  ENQUEUER_MAX_BODY_BYTES     request body limit (default 1048576)
  ENQUEUER_MAX_BATCH          jobs per batch request (default 1000)
  ENQUEUER_IDEMPOTENCY_TTL    seconds an Idempotency-Key is remembered (default 86400)
  ENQUEUER_MAX_DELAY          how far ahead a job may be scheduled, seconds (default
                              157680000: 5 years)
  ENQUEUER_REDIS_TIMEOUT      Redis connect/socket timeout, seconds (default 2)
  ENQUEUER_READY_TIMEOUT      /readyz PING timeout, seconds (default 0.5)
  ENQUEUER_RETRY_AFTER        Retry-After seconds on 503 (default 1)
  ENQUEUER_MIN_REPLICAS       answer 202 only once this many replicas have the jobs
                              (WAIT after each write; default 0: do not wait)
  ENQUEUER_MIN_REPLICAS_TIMEOUT  seconds to wait for them, else 503 (default 1)
  RESQUE_STATUS_TTL           seconds a job's status (GET /jobs/{id}) is kept after its
                              last change (default 86400; 0: write none)
  ENQUEUER_GRACEFUL_TIMEOUT   seconds to finish in-flight requests on TERM (default 30)
  ENQUEUER_WORKER_CONNECTIONS concurrent connections per worker (default 1000)
  RESQUE_LOG_FORMAT           json or text (default: json unless stderr is a terminal)
  RESQUE_LOG_LEVEL            debug, info, warning or error (default info; VVERBOSE=1:
                              debug); ENQUEUER_LOG_LEVEL is its deprecated name
  PROMETHEUS_MULTIPROC_DIR    metrics directory shared by the workers (default: a new
                              temporary directory)
"""


def gunicorn_argv(extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, *extra, APP]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "-h" in args or "--help" in args:
        print(HELP, end="")
        return
    if "--version" in args:
        print(version_line(PROGRAM))
        return
    try:
        config = Config.from_env()
        server = ServerSettings.from_env()
    except ConfigError as error:
        print(f"{PROGRAM}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(server.logs)
    for warning in renamed_settings(os.environ)[1]:
        log.warning(warning)
    log.debug("configuration read", extra={"namespace": config.namespace, "port": server.port})
    check_redis(config)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="resque-enqueuer-")
    command = gunicorn_argv(args)
    os.execv(command[0], command)


def check_redis(config: Config) -> None:
    """May the Redis user do what the enqueuer does? Exit 2 if not (docs/redis.md).

    Runs in this launcher process, which then becomes gunicorn (exec): the
    workers never see this connection.
    """
    from resque_proto.connection import connect
    from resque_proto.permissions import StartupError, check_permissions
    from resque_proto.redis_config import RedisSettings

    settings = config.redis or RedisSettings.from_url(config.redis_url)
    client = connect(settings, socket_timeout=config.redis_timeout,
                     connect_timeout=config.redis_timeout)  # fmt: skip
    try:
        warning = check_permissions(
            client, "enqueuer", "resque-enqueuer", settings, config.namespace,
            extra=["WAIT"] if config.min_replicas else [],
        )  # fmt: skip
    except StartupError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        client.close()
    if warning:
        log.warning(warning)


if __name__ == "__main__":
    main()
