"""The worker ↔ fork server (zygote) wire: one JSON object per line on a Unix stream socket.

zygote → worker, and nothing the other way (the worker closes the socket to stop it):

- ``{"spare": N}`` with one end of a new socket pair attached (``SCM_RIGHTS``): a
  child forked ahead of time waits on the other end for its job. The worker writes
  the job request to it, one line: ``{"payload": <raw job payload>, "title":
  <child's process title>, "term_child": bool, "run_at_exit_hooks": bool}``; the
  child answers on the same socket with its outcome, one line (``Outcome.encode``)
  written just before it exits. The job and its outcome go between the worker and
  the child directly, without waking the zygote.
- ``{"pid": N, "status": <waitpid status>}`` once the zygote has reaped child N. A
  spare that died before it got a job ends the same way. The zygote keeps two
  children alive: a replacement ``spare`` follows every end (after a tenth of a
  second if the child died as it started), unless the fork fails. The worker takes a
  whole outcome line as the job's end (the child exits 0 right after it) unless
  ``RUN_AT_EXIT_HOOKS`` has the child run exit handlers first; without a whole
  line it waits for this message.
- ``{"error": "..."}`` when no spare could be forked (out of memory or processes)
  and the zygote has no child left; it tries again a second later.

JSON's ``\\u`` escapes carry payloads holding undecodable bytes (surrogate escapes)
through unchanged.
"""

from __future__ import annotations

import json
import os
import socket
from collections import deque
from typing import Any

READ_CHUNK = 65536
MAX_FDS = 8  # per read; the zygote attaches one to each spare message


def encode_line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


class MessageStream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.fds: deque[int] = deque()  # received, in order, each for one spare message

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any], fd: int | None = None) -> None:
        """Send one message; ``fd`` travels with it (the receiver takes it with ``take_fd``)."""
        data = encode_line(message)
        if fd is not None:
            sent = socket.send_fds(self.sock, [data], [fd])
            data = data[sent:]
        self.sock.sendall(data)

    def buffered(self) -> bool:
        """A whole message has already been read (poll would not report it)."""
        return b"\n" in self.buffer

    def receive_line(self) -> bytes | None:
        """The next message as it came, newline included (blocking); None when the
        other side has gone. Descriptors that arrive meanwhile queue for ``take_fd``."""
        while (end := self.buffer.find(b"\n")) < 0:
            chunk, fds, _, _ = socket.recv_fds(self.sock, READ_CHUNK, MAX_FDS)
            self.fds.extend(fds)
            if not chunk:
                return None
            self.buffer += chunk
        line = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]
        return line

    def receive(self) -> dict[str, Any] | None:
        """The next message (blocking); None when the other side has gone."""
        line = self.receive_line()
        if line is None:
            return None
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError(f"not a zygote message: {line[:200]!r}")
        return message

    def take_fd(self) -> int:
        """The descriptor that came with the message just received."""
        if not self.fds:
            raise ValueError("a spare message came without its socket")
        fd = self.fds.popleft()
        os.set_inheritable(fd, False)  # recv_fds does not ask for close-on-exec
        return fd

    def close(self) -> None:
        self.sock.close()
        while self.fds:
            os.close(self.fds.popleft())
