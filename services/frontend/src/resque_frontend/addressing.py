"""Finding one entry of a Redis list again by its position *and* its exact bytes.

Pages link to an entry (a failure record, a delayed job) by its index and an id
derived from its bytes. Entries only shift towards the head (when earlier ones
are removed or popped), so an action looks for that id in a window around the
index and then acts on those exact bytes: a list that changed meanwhile can
never make it hit another entry (Resque issue #1293).
"""

from __future__ import annotations

import redis

from resque_proto.records import failure_id
from resque_proto.text import texts

LOOKUP_WINDOW = 500


def entry_id(raw: str) -> str:
    """The first 16 hex digits of the SHA-1 of the entry's bytes (``failure_id``'s hash)."""
    return failure_id(raw)


def locate(client: redis.Redis, key: str, index: int, wanted: str) -> tuple[int, str] | None:
    """``(index, bytes)`` of the entry of list ``key`` whose id is ``wanted``, nearest to
    ``index``; None when no entry near there has that id (gone or changed)."""
    if index < 0:
        return None
    lower = max(0, index - LOOKUP_WINDOW)
    chunk = texts(client.lrange(key, lower, index + LOOKUP_WINDOW))
    matches = [lower + i for i, raw in enumerate(chunk) if entry_id(raw) == wanted]
    if not matches:
        return None
    nearest = min(matches, key=lambda at: abs(at - index))
    return nearest, chunk[nearest - lower]
