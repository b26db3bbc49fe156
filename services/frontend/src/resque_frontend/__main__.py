"""``resque-frontend``: exec gunicorn serving the dashboard on ``0.0.0.0:$PORT``."""

from __future__ import annotations

import os
import sys

from resque_frontend.config import Settings

DEFAULT_PORT = "8080"


def gunicorn_argv(env: dict[str, str]) -> list[str]:
    port = env.get("PORT") or DEFAULT_PORT
    argv = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"0.0.0.0:{port}",
        "--worker-class", "gthread",
        "--threads", env.get("FRONTEND_THREADS", "4"),
        "--access-logfile", "-",
        "--graceful-timeout", "10",
        "--forwarded-allow-ips", env.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]  # fmt: skip
    if "WEB_CONCURRENCY" not in env:
        argv += ["--workers", "2"]
    return [*argv, "resque_frontend.wsgi:app"]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in {"-h", "--help"}:
        print(__doc__.strip())
        print("Environment: REDIS_URL, RESQUE_NAMESPACE, PORT (8080), WEB_CONCURRENCY, "
              "FRONTEND_AUTH_USER/FRONTEND_AUTH_PASSWORD, FRONTEND_AUTH_TOKEN, "
              "FRONTEND_READ_ONLY, FRONTEND_REFRESH_SECONDS, RESQUE_PRUNE_AFTER. "
              "See docs/frontend.md.")  # fmt: skip
        return
    try:
        Settings.from_env()
    except ValueError as error:
        sys.exit(f"resque-frontend: {error}")
    argv = gunicorn_argv(dict(os.environ))
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
