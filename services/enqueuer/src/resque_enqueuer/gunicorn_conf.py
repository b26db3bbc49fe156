"""gunicorn configuration of ``resque-enqueuer`` (``-c python:resque_enqueuer.gunicorn_conf``).

gevent workers (one cooperative greenlet per connection; gunicorn's gevent
worker monkey-patches before it loads the app, so the app's Redis sockets are
cooperative), no preload (each worker builds its own Redis pool after fork),
gunicorn's own and access logs in every part's format on stderr
(resque_enqueuer.logs), and the hooks that keep prometheus_client's multiprocess
directory correct.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from resque_enqueuer.envvars import ServerSettings

_server = ServerSettings.from_env()
bind = f"0.0.0.0:{_server.port}"
workers = _server.workers
worker_class = "gevent"
worker_connections = _server.worker_connections
preload_app = False
timeout = 30
graceful_timeout = _server.graceful_timeout
keepalive = 5
accesslog = "-"
logger_class = "resque_enqueuer.logs.AccessLogger"
proc_name = "resque-enqueuer"
# one shared socket path per user would collide between instances (tests, replicas)
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Start with an empty metrics directory: files of a previous run would be summed."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Drop the gauge files of a worker that exited (counters stay summed, as they should)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
