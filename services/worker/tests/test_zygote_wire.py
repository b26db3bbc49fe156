"""The zygote wire: a spare's socket travels with its message, in order, close-on-exec."""

from __future__ import annotations

import os
import socket

import pytest

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
