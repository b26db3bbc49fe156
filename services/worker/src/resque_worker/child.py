"""What runs inside the forked child: the job with its hooks, then a report.

The child is forked by the zygote (``zygote.py``) before its job is known: it
sets itself up (process group, signal handlers, death with the zygote), then
waits on its socket from the worker for the job (the worker's request,
``zygote_wire``). It never talks to Redis for bookkeeping: it runs ``after_fork``
hooks and the job, writes one JSON outcome line back to the worker, and leaves
with ``os._exit``, as Resque's child leaves with ``exit!``: no atexit handlers, no
flushing of the zygote's buffers twice. With ``RUN_AT_EXIT_HOOKS`` it leaves as
Resque's ``exit`` does instead: the atexit handlers run (those the job registered
and those inherited from the worker's imports) and stdout/stderr are flushed,
after the outcome is reported.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

import setproctitle

from resque_proto import job_hooks as hooks
from resque_proto.payload import Job, decode_payload, encode_payload
from resque_worker.errors import TermException
from resque_worker.outcome import SUCCESS, Outcome
from resque_worker.registry import JobRegistry
from resque_worker.signals import HANDLED, default_handlers
from resque_worker.zygote_wire import encode_line

PR_SET_PDEATHSIG = 1
# The C library through the interpreter's own symbols: ctypes.util.find_library would
# import shutil, subprocess, tempfile and random into the zygote, every one of them
# copied by each fork, and random re-seeds itself in every child (an at-fork hook).
LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None


def run_job(registry: JobRegistry, job_class: type, job: Job, forked: bool) -> Outcome:
    """Run ``after_fork`` hooks (when forked) and the job; any exception is the outcome."""
    try:
        if forked:
            registry.run_hooks("after_fork", job)
        hooks.perform(job_class, job.args)
        return SUCCESS
    except BaseException as error:
        return Outcome.from_exception(error)


def raise_term(signum: int, frame: FrameType | None) -> None:
    """Resque's TERM_CHILD handler: the first TERM raises in the job, later ones are ignored."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise TermException(signal.Signals(signum).name)


def spare_main(job_fd: int, registry: JobRegistry, zygote: int) -> NoReturn:
    """Entry point of the forked child: get ready, wait for the job (from the worker, on
    ``job_fd``), run it, report its outcome back on the same socket; never returns. Leaves
    quietly (status 0, no report) if the worker closes its socket without a job."""
    status = 0
    run_at_exit_hooks = False
    try:
        with contextlib.suppress(OSError):  # the zygote may have done it already
            os.setpgid(0, 0)
        default_handlers()
        die_with_parent(zygote)
        warm_up()
        request = read_request(job_fd)
        if request is not None:
            run_at_exit_hooks = bool(request.get("run_at_exit_hooks"))
            me = os.getpid()
            outcome = run_request(registry, request)
            if os.getpid() != me:  # a process the job forked, leaving through the job's code
                os._exit(status)
            write_all(job_fd, outcome.encode() + b"\n")  # the line's end: the report is whole
    except BaseException:
        status = 70  # could not even report: the parent records a DirtyExit
    finally:
        leave(status, run_at_exit_hooks)


# A request as the worker sends it (zygote_wire), for warm_up.
SAMPLE_REQUEST = encode_line({
    "payload": encode_payload("Warm", [1, 1.5, "s", None, True, {"k": []}], {"id": "x"}),
    "title": "t",
    "term_child": False,
    "run_at_exit_hooks": False,
})  # fmt: skip


def warm_up() -> None:
    """Decode a sample request and payload while the spare waits for its job.

    The first JSON decode in a freshly forked child takes 0.1-0.2 ms, almost all
    of it copy-on-write faults on the allocator's and the decoder's pages shared
    with the zygote; a second one takes a few microseconds. Paying it here, off
    the job's path, takes that much off the pickup latency (docs/benchmarks.md).
    """
    decode_payload(str(json.loads(SAMPLE_REQUEST)["payload"]))
    SUCCESS.encode()


def read_request(fd: int) -> dict[str, object] | None:
    """The job request (one JSON line); None at end of file (no job for this child)."""
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    request = json.loads(data)
    return request if isinstance(request, dict) else None


def run_request(registry: JobRegistry, request: dict[str, object]) -> Outcome:
    """Title, TERM_CHILD's handler, then the job (signals unblocked only now)."""
    try:
        job = decode_payload(str(request["payload"]))
        job_class = registry.lookup(job.class_name)
    except BaseException as error:  # the zygote checked both: not expected
        return Outcome.from_exception(error)
    title = str(request.get("title", ""))
    if title:
        setproctitle.setproctitle(title)
    if request.get("term_child"):
        signal.signal(signal.SIGTERM, raise_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
    return run_job(registry, job_class, job, forked=True)


def leave(status: int, run_at_exit_hooks: bool) -> NoReturn:
    """Ruby's ``exit!``; with ``RUN_AT_EXIT_HOOKS`` its ``exit``: atexit handlers
    (a failing one is reported on stderr by Python and the rest still run) and
    flushed stdio first. The exit status stays the job's either way."""
    if run_at_exit_hooks:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
    os._exit(status)


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process if ``parent`` dies (SIGKILL, OOM): the job child
    dies with the zygote, the zygote with the worker; otherwise the job would keep
    running while a pruner hands it to another worker."""
    if LIBC is not None:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)
