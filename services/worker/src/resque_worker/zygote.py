"""The fork server ("zygote"): a small process that forks the worker's job children.

Fork cost grows with the resident memory of the process that forks (its page
tables are copied). The worker parent holds redis-py, two thirds of its ~31 MB;
this process imports only the ``RESQUE_JOBS`` modules and the job-running code,
never redis-py itself (a job module may), so each fork is cheaper.

It serves one job at a time for its worker (see ``zygote_wire`` for the
messages): pass the request on to a child as it came, report the child's pid,
reap it, report its exit status and outcome. The child is forked ahead of time: a
spare child (own process group, default signal handlers, signals blocked across
the fork, ``PR_SET_PDEATHSIG``) waits on its own socket for its one job, so the
fork is not on the job's path. The next spare is forked right after a job's end
is reported, while the worker acks that job and reserves the next in Redis (and
at start, so an idle worker's next job finds one ready). A spare found dead when
a job arrives is reaped and replaced before the job is handed over. It dies with
the worker (``PR_SET_PDEATHSIG``) and its children die with it. Signals for the
worker that reach it through the terminal's process group (Ctrl-C) are ignored:
the worker decides what happens to the job.

The worker forks it at start, before importing redis-py; a replacement is
started with ``python -m resque_worker.zygote`` (see ``zygote_client``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import select
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from resque_proto import job_hooks as hooks
from resque_worker.child import die_with_parent, spare_main
from resque_worker.proctitle import ProcTitle
from resque_worker.registry import JobModuleError, JobRegistry
from resque_worker.signals import blocked_signals
from resque_worker.zygote_wire import READ_CHUNK, MessageStream

IGNORED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


def run(sock: socket.socket, registry: JobRegistry, procline_prefix: str, parent: int) -> int:
    """Become the zygote of worker ``parent`` and serve it until it closes the socket."""
    die_with_parent(parent)
    for signum in IGNORED:
        signal.signal(signum, signal.SIG_IGN)
    ProcTitle(procline_prefix).set(f"Fork server of {parent}")
    for job_class in set(registry.classes.values()):
        hooks.prepare(job_class)  # warm the hook cache once, for every child to share
    gc.collect()
    gc.freeze()  # children then share this heap copy-on-write
    stream = MessageStream(sock)
    spare = fork_spare(stream, registry)
    while (request := stream.receive_line()) is not None:
        spare = serve_one(stream, registry, request, spare)
    if spare is not None:  # it leaves at end of file on its socket
        spare.discard()
    return 0


@dataclass
class Spare:
    """A forked child waiting for its job: its pid, a pidfd and the zygote's end of its
    socket (the job goes down it, the child's outcome comes back)."""

    pid: int
    pidfd: int
    sock: socket.socket

    def alive(self) -> bool:
        return not select.select([self.pidfd], [], [], 0)[0]

    def discard(self) -> None:
        """Close its socket (a waiting spare then leaves) and reap it."""
        self.sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.pidfd)


def fork_spare(stream: MessageStream, registry: JobRegistry) -> Spare | None:
    """A new spare child, or None when it cannot be forked (the next job tries again)."""
    ours, theirs = socket.socketpair()
    zygote = os.getpid()
    try:
        with blocked_signals():  # the child unblocks once its own handlers are set
            pid = os.fork()
            if pid == 0:
                ours.close()
                stream.close()
                spare_main(theirs.detach(), registry, zygote)
    except OSError:  # out of memory or processes
        ours.close()
        theirs.close()
        return None
    theirs.close()
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child; whichever runs first wins
    return Spare(pid, os.pidfd_open(pid), ours)


def serve_one(
    stream: MessageStream, registry: JobRegistry, request: bytes, spare: Spare | None
) -> Spare | None:
    """Run one job in the spare (forking one if there is none); the next spare.

    The request line goes to the child undecoded: every page this process writes
    between the spare's fork and the hand-over is copied (copy-on-write), so it
    does as little as it can here."""
    if spare is not None and not spare.alive():
        spare.discard()
        spare = None
    if spare is None and (spare := fork_spare(stream, registry)) is None:
        stream.send({"error": "cannot fork: out of memory or processes"})
        return None
    try:
        spare.sock.sendall(request)
        spare.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # it died just now: reaped below and judged by its exit status
    stream.send({"pid": spare.pid})
    status, report = reap(spare.pid, spare.pidfd, spare.sock.detach())
    stream.send({"pid": spare.pid, "status": status, "report": report.decode("utf-8", "replace")})
    return fork_spare(stream, registry)


def reap(pid: int, pidfd: int, report_fd: int) -> tuple[int, bytes]:
    """Wait for the child to exit (its pidfd, not the socket: a grandchild may hold the
    socket open), collecting its report meanwhile; returns its waitpid status and the
    report. Closes both descriptors."""
    report = bytearray()
    os.set_blocking(report_fd, False)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(report_fd, select.POLLIN)
    try:
        exited = False
        while not exited:
            for fd, _ in poller.poll():
                if fd == pidfd:
                    exited = True
                elif not read_into(report_fd, report):
                    poller.unregister(report_fd)
        read_into(report_fd, report)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
        os.close(report_fd)
    return status, bytes(report)


def read_into(fd: int, into: bytearray) -> bool:
    """Read what is available; False at end of file (a reset counts: a child killed
    before it read its whole job resets its socket)."""
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False
        if not chunk:
            return False
        into += chunk


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m resque_worker.zygote --fd N --parent PID --jobs a,b``: a replacement zygote."""
    parser = argparse.ArgumentParser(prog="python -m resque_worker.zygote")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the worker")
    parser.add_argument("--parent", type=int, required=True, help="the worker's pid")
    parser.add_argument("--jobs", default="", help="the worker's RESQUE_JOBS modules")
    parser.add_argument("--procline-prefix", default="")
    options = parser.parse_args(argv)
    sock = socket.socket(fileno=options.fd)
    try:
        registry = JobRegistry.from_modules([m for m in options.jobs.split(",") if m])
    except JobModuleError as error:
        print(f"resque-worker zygote: {error}", file=sys.stderr)
        return 2
    return run(sock, registry, options.procline_prefix, options.parent)


if __name__ == "__main__":
    sys.exit(main())
