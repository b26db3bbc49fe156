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
import select
import signal
import socket
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NoReturn

from resque_worker import zygote
from resque_worker.registry import JobRegistry
from resque_worker.zygote_wire import READ_CHUNK, MessageStream, encode_line

log = logging.getLogger("resque_worker")

START_ATTEMPTS = 3  # spares tried for one job (a dead one is skipped, a dead zygote replaced)
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


@dataclass(frozen=True)
class Spare:
    """A child the zygote forked ahead of time, and our end of the socket it waits on."""

    pid: int
    sock: socket.socket


@dataclass
class RunningChild:
    """The child running our job: its outcome line comes back on the job's socket."""

    pid: int
    sock: socket.socket | None  # None once at end of file
    wait_for_exit: bool  # RUN_AT_EXIT_HOOKS: the child runs exit handlers after reporting
    report: bytearray = field(default_factory=bytearray)

    def read(self) -> None:
        """Take what has arrived (without blocking)."""
        while self.sock is not None:
            try:
                chunk = self.sock.recv(READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:  # reset: it died before it read its whole job
                chunk = b""
            if not chunk:
                self.close()
                return
            self.report += chunk

    def reported(self) -> bool:
        """Its whole outcome line is here (it exits 0 right after: ``child.leave``)."""
        return self.report.endswith(b"\n")

    def done(self) -> bool:
        """Its end is known without the zygote's word."""
        return self.reported() and not self.wait_for_exit

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class ZygoteClient:
    def __init__(self, sock: socket.socket, pid: int, registry: JobRegistry, prefix: str) -> None:
        self.stream = MessageStream(sock)
        self.pid: int | None = pid
        self.registry = registry
        self.prefix = prefix
        self.spares: deque[Spare] = deque()  # announced, not yet given a job, oldest first
        self.fork_error: str | None = None  # the zygote's last word, if it could not fork
        self.running: RunningChild | None = None  # the child running our job
        self.ended: ChildExit | None = None  # its end, once the zygote reported it
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

    def filenos(self) -> list[int]:
        """What to poll while a job runs: the zygote's socket and the child's."""
        child = self.running.sock if self.running is not None else None
        return [self.stream.fileno()] + ([child.fileno()] if child is not None else [])

    def start(self, payload: str, title: str, term_child: bool, run_at_exit_hooks: bool) -> int:
        """Hand the job to the zygote's spare child; its pid. A dead zygote is replaced and
        a spare that died while it waited is skipped, up to ``START_ATTEMPTS`` tries."""
        request = encode_line({
            "payload": payload,
            "title": title,
            "term_child": term_child,
            "run_at_exit_hooks": run_at_exit_hooks,
        })  # fmt: skip
        why = ""
        for _ in range(START_ATTEMPTS):
            try:
                spare = self._next_spare()
            except (OSError, ValueError, KeyError, ZygoteLost) as error:
                why = f"{type(error).__name__}: {error}"
                self.replace(why)
                continue
            if spare is None:
                failed, self.fork_error = self.fork_error, None
                raise ForkFailed(str(failed))
            if self._hand_over(spare, request):
                self.running = RunningChild(spare.pid, spare.sock, run_at_exit_hooks)
                self.ended = None
                return spare.pid
            why = f"spare child {spare.pid} died before its job"
        raise ForkFailed(f"no child to run the job: {why}")

    def _next_spare(self) -> Spare | None:
        """The oldest spare announced (waiting for one if need be); None if the zygote
        could not fork one."""
        if self.pid is None:
            self.respawn()
        while self.stream.buffered() or self._readable():
            self._take(self._receive())  # what came while we were busy elsewhere
        while not self.spares and self.fork_error is None:
            self._take(self._receive())
        return self.spares.popleft() if self.spares else None

    @staticmethod
    def _hand_over(spare: Spare, request: bytes) -> bool:
        """Write the job to the spare; False if it is gone (its end is then reported)."""
        try:
            spare.sock.sendall(request)
        except OSError:
            spare.sock.close()
            return False
        spare.sock.setblocking(False)  # its outcome is read as it comes
        return True

    def _receive(self) -> dict[str, Any]:
        message = self.stream.receive()
        if message is None:
            raise ZygoteLost("the zygote closed its socket")
        return message

    def _take(self, message: dict[str, Any]) -> None:
        """Note a message from the zygote: a new spare, a failed fork or a child's end
        (our job's, a spare's that died unused, or one's whose outcome we have)."""
        if "spare" in message:
            sock = socket.socket(fileno=self.stream.take_fd())
            sock.settimeout(REPLY_TIMEOUT)
            self.spares.append(Spare(int(message["spare"]), sock))
            self.fork_error = None
        elif "error" in message:
            self.fork_error = str(message["error"])
        elif self.running is not None and message["pid"] == self.running.pid:
            self.ended = ChildExit(int(message["status"]), b"")
        else:
            self._drop_spare(int(message["pid"]))

    def _drop_spare(self, pid: int) -> None:
        """Forget a spare that died before its job (if it is one of ours)."""
        for spare in [s for s in self.spares if s.pid == pid]:
            spare.sock.close()
            self.spares.remove(spare)

    def exit_ready(self) -> bool:
        """The child's end can be taken without waiting on ``filenos()``."""
        child = self.running
        return self.stream.buffered() or (child is not None and child.done())

    def wait_exit(self) -> ChildExit | None:
        """The end of the running child, or None if it has not come yet (call when one of
        ``filenos()`` is readable or ``exit_ready()``): its whole outcome line, or else
        the zygote's report of its exit status."""
        child = self.running
        if child is None:
            raise RuntimeError("no job is running")
        try:
            child.read()
            if not child.done() and (self.stream.buffered() or self._readable()):
                self._take(self._receive())
        except (OSError, ValueError, KeyError, ZygoteLost) as error:
            report = bytes(child.report)  # what the child said before its zygote died
            self.replace(f"{type(error).__name__}: {error}")
            return ChildExit(None, report)
        if child.done():
            ended = ChildExit(0, bytes(child.report))
        elif self.ended is not None:
            child.read()  # it has exited: all it wrote is here
            ended = ChildExit(self.ended.status, bytes(child.report))
        else:
            return None
        child.close()
        self.running = self.ended = None
        return ended

    def _readable(self) -> bool:
        poller = select.poll()  # not select(): descriptors above 1024 are allowed
        poller.register(self.stream.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def replace(self, why: str) -> None:
        """Kill and reap a dead (or hung) zygote and spawn another (if that fails, the
        next ``start`` tries again)."""
        log.warning("the fork server (zygote) is gone; starting another", extra={"why": why})
        self._forget()
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

    def _forget(self) -> None:
        """Close our ends of the zygote's socket and of the spare's (a waiting spare
        then leaves) and forget the running child."""
        while self.spares:
            self.spares.popleft().sock.close()
        if self.running is not None:
            self.running.close()
        self.fork_error = self.running = self.ended = None
        self.stream.close()

    def close(self) -> None:
        """Stop the zygote (it exits when its socket closes) and reap it."""
        self._forget()
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
