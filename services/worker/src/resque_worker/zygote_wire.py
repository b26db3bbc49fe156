"""The worker ↔ fork server (zygote) wire: one JSON object per line on a Unix stream socket.

parent → zygote: ``{"payload": <raw job payload>, "title": <child's process title>,
"term_child": bool, "run_at_exit_hooks": bool}``.
zygote → parent: ``{"pid": N}`` once the child runs (or ``{"error": "..."}`` when it
could not be started), then ``{"pid": N, "status": <waitpid status>, "report":
<the child's outcome JSON>}`` once the zygote has reaped it. JSON's ``\\u`` escapes
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

    def receive(self) -> dict[str, Any] | None:
        """The next message (blocking); None when the other side has gone."""
        while (end := self.buffer.find(b"\n")) < 0:
            chunk = self.sock.recv(READ_CHUNK)
            if not chunk:
                return None
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError(f"not a zygote message: {line[:200]!r}")
        return message

    def close(self) -> None:
        self.sock.close()
