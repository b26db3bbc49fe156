"""``resque-frontend``: exec gunicorn serving the dashboard on ``0.0.0.0:$PORT``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping

from resque_frontend.config import Settings
from resque_proto import logs
from resque_proto.version import add_version_flag

log = logging.getLogger("resque_frontend")

ENVIRONMENT = """\
environment (see docs/frontend.md):
  REDIS_URL                 redis://localhost:6379/0 (rediss://, redis+sentinel://; REDIS_URL_FILE,
                            REDIS_PASSWORD(_FILE), REDIS_TLS_*, REDIS_SENTINELS: docs/redis.md)
  RESQUE_NAMESPACE          resque
  PORT                      8080
  WEB_CONCURRENCY           gunicorn worker processes (2)
  FRONTEND_THREADS          threads per worker process (4)
  FRONTEND_AUTH_USER, FRONTEND_AUTH_PASSWORD(_FILE)   basic auth for the pages
  FRONTEND_AUTH_TOKEN(_FILE)  bearer token (or basic-auth password)
  FRONTEND_READ_ONLY        true: no actions (1/true/yes/on or 0/false/no/off)
  FRONTEND_REFRESH_SECONDS  live refresh period (3)
  RESQUE_PRUNE_AFTER        seconds without heartbeat before one of our workers is stale (30)
  FRONTEND_REDIS_TIMEOUT    Redis socket timeout in seconds (2)
  RESQUE_LOG_FORMAT         json or text (json unless stderr is a terminal)
  RESQUE_LOG_LEVEL          debug, info, warning or error (info; VVERBOSE=1: debug)
every setting of every part: docs/configuration.md
"""


def gunicorn_argv(settings: Settings, env: Mapping[str, str]) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"0.0.0.0:{settings.port}",
        "--workers", str(settings.workers),
        "--worker-class", "gthread",
        "--threads", str(settings.threads),
        "--access-logfile", "-",
        "--logger-class", "resque_frontend.access_log.AccessLogger",
        "--graceful-timeout", "10",
        "--forwarded-allow-ips", env.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "resque_frontend.wsgi:app",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="resque-frontend",
        description="Resque dashboard and Prometheus /metrics (gunicorn on 0.0.0.0:$PORT).",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_flag(parser)
    parser.parse_args()
    try:
        settings = Settings.from_env()
    except ValueError as error:  # a bad setting: one line, exit 2 as every part
        print(f"resque-frontend: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.logs)
    log.debug("configuration read", extra={"namespace": settings.namespace})
    check_redis(settings)
    argv = gunicorn_argv(settings, os.environ)
    os.execv(argv[0], argv)


def check_redis(settings: Settings) -> None:
    """May the Redis user do what the dashboard does? Exit 2 if not (docs/redis.md).

    Runs in this launcher process, which then becomes gunicorn (exec).
    """
    from resque_proto.connection import connect
    from resque_proto.permissions import StartupError, check_permissions
    from resque_proto.redis_config import RedisSettings

    redis = settings.redis or RedisSettings.from_url(settings.redis_url)
    client = connect(redis, socket_timeout=settings.redis_timeout,
                     connect_timeout=settings.redis_timeout)  # fmt: skip
    part = "frontend-read-only" if settings.read_only else "frontend"
    try:
        warning = check_permissions(client, part, "resque-frontend", redis, settings.namespace)
    except StartupError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        client.close()
    if warning:
        log.warning(warning)


if __name__ == "__main__":
    main()
