"""Jobs for the benchmarks: the same no-op for our worker (a class) and RQ (a function)."""

from __future__ import annotations

import os
import time


class Noop:
    @staticmethod
    def perform() -> None:
        return None


class Latency:
    """Appends (start time - enqueue time) in seconds to ``BENCH_LATENCY_FILE``."""

    @staticmethod
    def perform(enqueued_at: float) -> None:
        started = time.time()
        fd = os.open(os.environ["BENCH_LATENCY_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{started - enqueued_at:.6f}\n".encode())
        finally:
            os.close(fd)


class Hold:
    """Sleeps, so the benchmark can measure a running child's memory."""

    @staticmethod
    def perform(seconds: float) -> None:
        time.sleep(seconds)


def noop() -> None:
    """RQ's job (RQ runs functions)."""
    return None
