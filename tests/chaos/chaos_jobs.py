"""The chaos test's job: one JSON line when it starts and one when it is done.

Each line carries the process ancestry (child, fork server, worker), so the test can
tell which worker a run belonged to once that worker has been killed.
"""

from __future__ import annotations

import json
import os
import random
import time

EVENTS = os.environ.get("CHAOS_EVENTS", "")


def ancestors(pid: int, depth: int = 3) -> list[int]:
    """``pid``'s parent, grandparent, ... (``/proc``; fewer when one has gone)."""
    chain: list[int] = []
    for _ in range(depth):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        chain.append(pid)
    return chain


def record(event: str, number: int) -> None:
    line = json.dumps(
        {"event": event, "n": number, "pid": os.getpid(), "up": ancestors(os.getpid()),
         "t": time.time()}
    )  # fmt: skip
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one small O_APPEND write: never interleaved
    finally:
        os.close(fd)


class ChaosJob:
    queue = "chaos"

    @staticmethod
    def perform(number: int) -> None:
        record("start", number)
        time.sleep(random.uniform(0.02, 0.06))  # long enough for kills to land mid-job
        record("done", number)
