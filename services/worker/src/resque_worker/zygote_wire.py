"""The worker ↔ fork server (zygote) wire: one JSON object per line on a Unix stream socket.

parent → zygote: ``{"payload": <raw job payload>, "title": <child's process title>,
"term_child": bool, "run_at_exit_hooks": bool}``.
zygote → parent: ``{"pid": N}`` once the child runs (or ``{"error": "..."}`` when it
could not be started), then ``{"pid": N, "status": <waitpid status>, "report":
<the child's outcome JSON>}`` once the zygote has reaped it. The zygote passes the
request line on, re-encoded, to the spare child that runs the job (its own socket),
which writes its outcome back on that socket (the zygote does not decode it: the
worker has already decoded the payload and found its class). JSON's ``\\u`` escapes
carry payloads holding undecodable bytes (surrogate escapes) through unchanged.
"""

from __future__ import annotations

import json
import socket
from typing import Any

READ_CHUNK = 65536


class MessageStream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n")

    def buffered(self) -> bool:
        """A whole message has already been read (poll would not report it)."""
        return b"\n" in self.buffer

    def receive_line(self) -> bytes | None:
        """The next message as it came, newline included (blocking); None when the
        other side has gone."""
        while (end := self.buffer.find(b"\n")) < 0:
            chunk = self.sock.recv(READ_CHUNK)
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

    def close(self) -> None:
        self.sock.close()
