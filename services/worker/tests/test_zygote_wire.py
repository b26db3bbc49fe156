"""The zygote wire: a spare's socket travels with its message, in order, close-on-exec;
and a zygote that cannot fork says so on it."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from resque_worker import zygote
from resque_worker.registry import JobRegistry
from resque_worker.zygote_wire import MessageStream


def test_each_spare_message_carries_its_own_socket_in_order() -> None:
    zygote_end, worker_end = socket.socketpair()
    zygote, worker = MessageStream(zygote_end), MessageStream(worker_end)
    pairs = [socket.socketpair() for _ in range(2)]
    for number, (ours, _) in enumerate(pairs):
        zygote.send({"spare": number}, fd=ours.fileno())
    zygote.send({"pid": 1, "status": 0, "report": ""})
    for number, (_, child_end) in enumerate(pairs):
        assert worker.receive() == {"spare": number}
        fd = worker.take_fd()
        assert not os.get_inheritable(fd)
        with socket.socket(fileno=fd) as received:
            received.sendall(b"job %d\n" % number)
        assert child_end.recv(100) == b"job %d\n" % number
    assert worker.receive() == {"pid": 1, "status": 0, "report": ""}
    with pytest.raises(ValueError, match="without its socket"):
        worker.take_fd()
    zygote.close()
    assert worker.receive() is None
    worker.close()


def test_a_zygote_that_cannot_fork_says_so_and_stops_when_the_worker_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of memory or processes: an error message, no fork loop, and a worker that goes
    away meanwhile is noticed without waiting for the next attempt."""
    attempts: list[float] = []
    monkeypatch.setattr(zygote, "fork_spare", lambda stream, registry: attempts.append(1))
    zygote_end, worker_end = socket.socketpair()
    serving = threading.Thread(
        target=zygote.serve, args=(MessageStream(zygote_end), JobRegistry()), daemon=True
    )
    serving.start()
    worker = MessageStream(worker_end)
    assert worker.receive() == {"error": "cannot fork: out of memory or processes"}
    worker.close()
    serving.join(timeout=zygote.FORK_RETRY_SECONDS / 2)
    assert not serving.is_alive() and attempts == [1]


def test_a_failed_fork_is_reported_only_once_no_child_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With its job's child still alive the worker may yet get a spare: an error then
    would put its next job back for nothing. The child's end comes first."""
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)
        os._exit(0)
    forks = iter([zygote.Spare(pid, os.pidfd_open(pid))])
    monkeypatch.setattr(zygote, "fork_spare", lambda stream, registry: next(forks, None))
    zygote_end, worker_end = socket.socketpair()
    serving = threading.Thread(
        target=zygote.serve, args=(MessageStream(zygote_end), JobRegistry()), daemon=True
    )
    serving.start()
    worker = MessageStream(worker_end)
    assert worker.receive() == {"pid": pid, "status": 0}
    assert worker.receive() == {"error": "cannot fork: out of memory or processes"}
    worker.close()
    serving.join(timeout=zygote.FORK_RETRY_SECONDS / 2)
    assert not serving.is_alive()
