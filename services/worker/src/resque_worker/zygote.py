"""The fork server ("zygote"): a small process that forks the worker's job children.

Fork cost grows with the resident memory of the process that forks (its page
tables are copied). The worker parent holds redis-py, two thirds of its ~31 MB;
this process imports only the ``RESQUE_JOBS`` modules and the job-running code,
never redis-py itself (a job module may), so each fork is cheaper.

It serves one job at a time for its worker (see ``zygote_wire`` for the
messages): decode the payload, fork the child exactly as the worker used to (own
process group, default signal handlers, signals blocked across the fork,
``PR_SET_PDEATHSIG``), report its pid, reap it, report its exit status and
outcome. It dies with the worker (``PR_SET_PDEATHSIG``) and its children die with
it. Signals for the worker that reach it through the terminal's process group
(Ctrl-C) are ignored: the worker decides what happens to the job.

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

from resque_proto import job_hooks as hooks
from resque_proto.errors import MalformedPayload
from resque_proto.payload import decode_payload
from resque_worker.child import child_main, die_with_parent
from resque_worker.errors import UnknownJobClass
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
    gc.collect()
    gc.freeze()  # children then share this heap copy-on-write
    stream = MessageStream(sock)
    while (request := stream.receive()) is not None:
        serve_one(stream, registry, request)
    return 0


def serve_one(stream: MessageStream, registry: JobRegistry, request: dict[str, object]) -> None:
    try:
        job = decode_payload(str(request["payload"]))
        job_class = registry.lookup(job.class_name)
    except (KeyError, MalformedPayload, UnknownJobClass) as error:
        stream.send({"error": f"{type(error).__name__}: {error}"})
        return
    hooks.prepare(job_class)  # warm the hook cache once, here, for every child to share
    read_fd, write_fd = os.pipe()
    try:
        with blocked_signals():  # the child unblocks once its own handlers are set
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                stream.close()
                child_main(
                    write_fd,
                    registry,
                    job_class,
                    job,
                    title=str(request.get("title", "")),
                    term_child=bool(request.get("term_child")),
                    run_at_exit_hooks=bool(request.get("run_at_exit_hooks")),
                )
    except OSError as error:  # out of memory or processes: the job never ran
        os.close(read_fd)
        os.close(write_fd)
        stream.send({"error": f"cannot fork: {error}"})
        return
    os.close(write_fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child; whichever runs first wins
    stream.send({"pid": pid})
    status, report = reap(pid, read_fd)
    stream.send({"pid": pid, "status": status, "report": report.decode("utf-8", "replace")})


def reap(pid: int, report_fd: int) -> tuple[int, bytes]:
    """Wait for the child to exit (its pidfd, not the pipe: a grandchild may hold the pipe
    open), collecting its report meanwhile; returns its waitpid status and the report."""
    report = bytearray()
    os.set_blocking(report_fd, False)
    pidfd = os.pidfd_open(pid)
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
    """Read what is available; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return True
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
