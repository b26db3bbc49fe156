"""Counters (``stat:processed``/``stat:failed``) and the ``pause-all-workers`` flag."""

from __future__ import annotations

import redis

from resque_proto.keys import Keys

# What Ruby's String#strip removes: ASCII whitespace and NUL.
RUBY_STRIPPED = b" \t\n\v\f\r\0"


def pause_flag_set(value: bytes | str | None) -> bool:
    """Resque 3.0's test of the ``pause-all-workers`` value:
    ``value.to_s.strip.downcase == 'true'``, so ``" TRUE "`` pauses too."""
    raw = value.encode() if isinstance(value, str) else value or b""
    return raw.strip(RUBY_STRIPPED).lower() == b"true"


class Stats:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def get(self, name: str, worker_id: str | None = None) -> int:
        return int(self.redis.get(self.keys.stat(name, worker_id)) or 0)

    def processed(self, worker_id: str | None = None) -> int:
        return self.get("processed", worker_id)

    def failed(self, worker_id: str | None = None) -> int:
        return self.get("failed", worker_id)

    def paused(self) -> bool:
        """Resque 3.0 pauses every worker while this key holds ``true`` (any case,
        surrounding spaces allowed)."""
        return pause_flag_set(self.redis.get(self.keys.pause_all))

    def pause_all(self) -> None:
        self.redis.set(self.keys.pause_all, "true")

    def resume_all(self) -> None:
        self.redis.delete(self.keys.pause_all)
