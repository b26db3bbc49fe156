"""Jobs of the tests/ha workers (``RESQUE_JOBS=ha_jobs``, with tests/ha on PYTHONPATH).

``Record`` appends one line per run to ``$HA_RUNS_FILE``: ``<token> <epoch> <pid>``
(one ``O_APPEND`` write, so children of several workers can share the file).
"""

from __future__ import annotations

import os
import time


class Record:
    queue = "ha"

    @staticmethod
    def perform(token: str) -> None:
        line = f"{token} {time.time():.6f} {os.getpid()}\n".encode()
        fd = os.open(os.environ["HA_RUNS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


class Boom:
    queue = "ha"

    @staticmethod
    def perform(token: str) -> None:
        raise RuntimeError(f"boom {token}")


class Flaky:
    """Fails once per token (a retry policy brings it back), then records."""

    queue = "ha"
    retry_limit = 1
    retry_delay = 0

    @staticmethod
    def perform(token: str) -> None:
        marker = f"{os.environ['HA_RUNS_FILE']}.{token}.failed"
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first attempt fails")
        Record.perform(token)


class Slow:
    """Runs through a failover: marks its start, sleeps, then records."""

    queue = "ha"

    @staticmethod
    def perform(token: str, seconds: float) -> None:
        open(f"{os.environ['HA_RUNS_FILE']}.{token}.started", "w").close()
        time.sleep(seconds)
        Record.perform(token)
