"""Liveness for orchestrators: a long-running process (worker, scheduler) touches a
file; its ``--health-check`` reads the file's age."""

from __future__ import annotations

import os
import time
from pathlib import Path


class HealthFile:
    """Touches ``path`` at most once a second (cheap enough for every idle loop)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._last = 0.0

    def touch(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._last < 1.0:
            return
        self._last = now
        self.path.touch()


def check(path: str | None, heartbeat_interval: float) -> int:
    """0 if ``path`` was touched within 3 heartbeat intervals, else 1."""
    if not path:
        return 1
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError:
        return 1
    return 0 if age <= 3 * heartbeat_interval else 1
