"""Resque's ``BACKGROUND`` and ``PIDFILE``: detach from the terminal, record the pid.

``daemonize`` does what Resque's ``Worker#prepare`` gets from ``Process.daemon(true)``,
which on Linux is glibc's ``daemon(3)``: fork once, the parent exits 0 at once, the
child starts a new session, keeps the working directory (``nochdir``) and points
stdin, stdout and stderr at ``/dev/null`` (so the logs are lost, as in Resque; run
it in the foreground under a supervisor to keep them). Resque writes the pid file
after detaching and never removes it; here it is removed at exit too, if it still
holds our pid.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def daemonize() -> None:
    """Continue in a detached child; the calling process exits with status 0."""
    if os.fork() != 0:
        os._exit(0)
    with contextlib.suppress(OSError):  # EPERM: already a process group leader
        os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


@contextlib.contextmanager
def pid_file(path: str | None) -> Iterator[None]:
    """Write this process's pid to ``path`` (if given) for the duration of the block."""
    if path is None:
        yield
        return
    pid = str(os.getpid())
    file = Path(path)
    file.write_text(pid)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if file.read_text().strip() == pid:  # not a successor's file
                file.unlink()
