"""The worker parent's handle on its fork server (zygote): start jobs, learn how they ended.

The first zygote is forked by ``resque_worker.__main__`` before redis-py is
imported, so it shares the job modules' pages with the parent and never holds
redis-py. A replacement (the zygote died) cannot be forked from the parent, which
by then holds redis-py; it is started with ``posix_spawn`` of ``python -m
resque_worker.zygote`` instead: a fresh interpreter that imports the same
``RESQUE_JOBS`` modules. We chose spawn over keeping a spare redis-free process
around: a zygote dies only when something kills it, and a spawn costs one
interpreter start-up (tens of milliseconds plus the job modules' imports) then.

A job module's ``before_first_fork`` state reaches the first zygote (it runs
before that fork) but not a replacement.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import NoReturn

from resque_worker import zygote
from resque_worker.registry import JobRegistry
from resque_worker.zygote_wire import MessageStream

log = logging.getLogger("resque_worker")

REPLY_TIMEOUT = 10.0  # a zygote that does not answer this long is replaced (well below
# RESQUE_PRUNE_AFTER: the parent cannot heartbeat while it waits)


class ZygoteLost(Exception):
    """The zygote went away (or stopped answering)."""


class ForkFailed(Exception):
    """The job's child could not be started; the job never ran."""


@dataclass(frozen=True)
class ChildExit:
    status: int | None  # waitpid status; None when the zygote died first (and the child with it)
    report: bytes  # the child's outcome JSON, as it wrote it


class ZygoteClient:
    def __init__(self, sock: socket.socket, pid: int, registry: JobRegistry, prefix: str) -> None:
        self.stream = MessageStream(sock)
        self.pid: int | None = pid
        self.registry = registry
        self.prefix = prefix
        sock.settimeout(REPLY_TIMEOUT)

    @classmethod
    def fork(cls, registry: JobRegistry, procline_prefix: str) -> ZygoteClient:
        """Fork the first zygote from this (still redis-free) process."""
        ours, theirs = socket.socketpair()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _zygote_main(theirs, registry, procline_prefix, parent)
        theirs.close()
        return cls(ours, pid, registry, procline_prefix)

    def fileno(self) -> int:
        return self.stream.fileno()

    def start(self, payload: str, title: str, term_child: bool, run_at_exit_hooks: bool) -> int:
        """Have the zygote fork a child for the job; its pid. Replaces a dead zygote once."""
        request = {
            "payload": payload,
            "title": title,
            "term_child": term_child,
            "run_at_exit_hooks": run_at_exit_hooks,
        }
        why = ""
        for _ in range(2):
            try:
                if self.pid is None:
                    self.respawn()
                self.stream.send(request)
                reply = self.stream.receive()
                if reply is None:
                    raise ZygoteLost("the zygote closed its socket")
            except (OSError, ValueError, ZygoteLost) as error:
                why = f"{type(error).__name__}: {error}"
                self.replace(why)
                continue
            if "error" in reply:
                raise ForkFailed(str(reply["error"]))
            return int(reply["pid"])
        raise ForkFailed(f"no fork server (zygote) to fork the job: {why}")

    def exit_ready(self) -> bool:
        """The child's end was read along with an earlier message: do not wait on
        ``fileno()`` for it."""
        return self.stream.buffered()

    def wait_exit(self) -> ChildExit:
        """The end of the running child (call when ``fileno()`` is readable or
        ``exit_ready()``)."""
        try:
            reply = self.stream.receive()
            if reply is None:
                raise ZygoteLost("the zygote closed its socket")
            return ChildExit(int(reply["status"]), str(reply.get("report", "")).encode())
        except (OSError, ValueError, KeyError, ZygoteLost) as error:
            self.replace(f"{type(error).__name__}: {error}")
            return ChildExit(None, b"")

    def replace(self, why: str) -> None:
        """Kill and reap a dead (or hung) zygote and spawn another (if that fails, the
        next ``start`` tries again)."""
        log.warning("the fork server (zygote) is gone; starting another", extra={"why": why})
        self.stream.close()
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = None
        try:
            self.respawn()
        except OSError as error:
            log.error("cannot start a fork server (zygote)", extra={"error": str(error)})

    def respawn(self) -> None:
        ours, theirs = socket.socketpair()
        theirs.set_inheritable(True)
        argv = [
            sys.executable, "-m", "resque_worker.zygote",
            "--fd", str(theirs.fileno()), "--parent", str(os.getpid()),
            "--jobs", ",".join(self.registry.modules), "--procline-prefix", self.prefix,
        ]  # fmt: skip
        try:
            self.pid = os.posix_spawn(sys.executable, argv, os.environ)
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.stream = MessageStream(ours)
        ours.settimeout(REPLY_TIMEOUT)

    def close(self) -> None:
        """Stop the zygote (it exits when its socket closes) and reap it."""
        self.stream.close()
        if self.pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = None


def _zygote_main(
    sock: socket.socket, registry: JobRegistry, procline_prefix: str, parent: int
) -> NoReturn:
    status = 1
    try:
        status = zygote.run(sock, registry, procline_prefix, parent)
    except BaseException:
        log.exception("the fork server (zygote) crashed")
    finally:
        os._exit(status)
