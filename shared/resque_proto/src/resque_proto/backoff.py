"""Capped exponential backoff with jitter, for reconnecting to Redis."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base: float = 0.05, cap: float = 5.0) -> None:
        self.base = base
        self.cap = cap
        self.attempts = 0

    def next_delay(self) -> float:
        """The next wait: doubles each time up to ``cap``, jittered to 50-100%."""
        delay = min(self.cap, self.base * 2.0**self.attempts)
        self.attempts = min(self.attempts + 1, 30)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempts = 0
