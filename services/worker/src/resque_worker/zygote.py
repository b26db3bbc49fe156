"""The fork server ("zygote"): a small process that forks the worker's job children.

Fork cost grows with the resident memory of the process that forks (its page
tables are copied). The worker parent holds redis-py, two thirds of its ~31 MB;
this process imports only the ``RESQUE_JOBS`` modules and the job-running code,
never redis-py itself (a job module may), so each fork is cheaper.

It keeps two children forked ahead of time for its worker (see ``zygote_wire``
for the messages): spares (own process group, default signal handlers, signals
blocked across the fork, ``PR_SET_PDEATHSIG``) that each wait on their own socket
for their one job. The worker gets the other end of each socket, writes the job
to the oldest spare itself and reads the child's outcome back from it, so neither
the fork nor this process is on the job's path. Two, because then the next
job's spare is ready while a job runs: the zygote reaps each child and reports
its exit status, then forks a replacement while the worker acks that job,
reserves the next and hands it to the other spare (on two cores the fork and the
next job run side by side; with one spare the next job waited for that fork). A
spare that dies before its job is reported the same way and replaced; the
worker, finding its socket closed, takes the next. It dies with the
worker (``PR_SET_PDEATHSIG``) and its children die with it. Signals for the
worker that reach it through the terminal's process group (Ctrl-C) are ignored:
the worker decides what happens to the job.

The worker forks it at start, before importing redis-py; a replacement is
started with ``python -m resque_worker.zygote`` (see ``zygote_client``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from resque_proto import job_hooks as hooks
from resque_worker.child import die_with_parent, spare_main
from resque_worker.proctitle import ProcTitle
from resque_worker.registry import JobModuleError, JobRegistry
from resque_worker.signals import blocked_signals
from resque_worker.zygote_wire import READ_CHUNK, MessageStream

IGNORED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
CHILDREN = 2  # alive at once: the one running a job and the spare ready for the next
FORK_RETRY_SECONDS = 1.0  # after a failed fork (out of memory or processes)
QUICK_DEATH_SECONDS = 0.05  # a child that failed this soon after its fork died starting
QUICK_DEATH_PAUSE_SECONDS = 0.1  # before the next fork after such a death


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
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the worker has gone
        serve(stream, registry)
    return 0


def serve(stream: MessageStream, registry: JobRegistry) -> None:
    """Keep ``CHILDREN`` children alive and report each one's end, until the worker closes
    the socket. Forks wait ``fork_after`` (a second after a failed fork, a tenth after a
    child that died as it started). A failed fork is reported only when no child is
    left: until then the worker may still get a spare (its job's child exits, and the
    next try can succeed), and an error it took for the next job would put that job
    back for nothing."""
    children: dict[int, Spare] = {}  # by pidfd
    fork_after = 0.0
    try:
        while True:
            if len(children) < CHILDREN and time.monotonic() >= fork_after:
                spare = fork_spare(stream, registry)
                if spare is not None:
                    children[spare.pidfd] = spare
                    continue
                if not children:
                    stream.send({"error": "cannot fork: out of memory or processes"})
                fork_after = time.monotonic() + FORK_RETRY_SECONDS
            wait = None if len(children) == CHILDREN else fork_after - time.monotonic()
            ended = reap(children, stream, wait)
            if ended is None:
                return
            for spare, status in ended:
                stream.send({"pid": spare.pid, "status": status})
                if spare.died_starting(status):
                    fork_after = max(fork_after, time.monotonic() + QUICK_DEATH_PAUSE_SECONDS)
    finally:
        for spare in children.values():
            spare.discard()


@dataclass
class Spare:
    """A forked child waiting for its job: its pid and a pidfd."""

    pid: int
    pidfd: int
    forked_at: float = field(default_factory=time.monotonic)

    def died_starting(self, status: int) -> bool:
        """It failed right after its fork (killed, out of memory): the next fork waits a
        little, so spares that cannot start do not make the zygote fork in a loop."""
        return status != 0 and time.monotonic() - self.forked_at < QUICK_DEATH_SECONDS

    def discard(self) -> None:
        """Kill and reap it (the worker has gone: no job will come)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.pidfd)


def fork_spare(stream: MessageStream, registry: JobRegistry) -> Spare | None:
    """Fork a spare child and hand the worker the socket its job goes down (and its
    report comes back up); None when it cannot be forked.

    Every page this process writes between the fork and the hand-over is copied
    (copy-on-write) into the child, so the job does not pass through here at all."""
    ours, theirs = socket.socketpair()  # the worker's end, the child's end
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
    spare = Spare(pid, os.pidfd_open(pid))
    try:
        stream.send({"spare": pid}, fd=ours.fileno())
    except OSError:
        spare.discard()
        raise
    finally:
        ours.close()
    return spare


def worker_closed(stream: MessageStream) -> bool:
    """Call when the worker's socket is readable: True at end of file. The worker
    sends nothing, so anything else read is dropped."""
    return not stream.sock.recv(READ_CHUNK)


def reap(
    children: dict[int, Spare], stream: MessageStream, timeout: float | None
) -> list[tuple[Spare, int]] | None:
    """Wait up to ``timeout`` seconds (None: no limit) for children to exit (their
    pidfds) and reap them: each with its waitpid status; None if the worker closed its
    socket first."""
    poller = select.poll()
    for fd in (*children, stream.fileno()):
        poller.register(fd, select.POLLIN)
    ready = poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))
    if any(fd == stream.fileno() for fd, _ in ready) and worker_closed(stream):
        return None
    ended = []
    for fd, _ in ready:
        if fd in children:
            spare = children.pop(fd)
            _, status = os.waitpid(spare.pid, 0)
            os.close(spare.pidfd)
            ended.append((spare, status))
    return ended


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
