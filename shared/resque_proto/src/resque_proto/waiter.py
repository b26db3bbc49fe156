"""Wake an idle worker the moment a job lands on one of its queues (and the
scheduler the moment a delayed job is scheduled).

Reserving stays non-blocking (one Lua call over all queues, so priority order
and reliability hold); waiting is done on Redis keyspace notifications for list
pushes to ``<ns>:queue:*``, which fire for every producer, Ruby's included.
Notifications need ``notify-keyspace-events`` to contain ``K`` and ``l`` (or
``A``); we enable them when allowed. Where ``CONFIG`` is forbidden (some managed
Redis services) and they are off, we fall back to polling every
``fallback_poll`` seconds.

The subscription is opened once and kept, so a push between an empty reserve and
the next wait is never missed: its message is already buffered.
"""

from __future__ import annotations

import time

import redis

from resque_proto.keys import Keys

PUSH_EVENTS = frozenset({b"rpush", b"lpush", b"linsert", b"lmove", b"rpoplpush", b"lset"})


def ensure_keyspace_events(client: redis.Redis, event_class: str = "l") -> bool:
    """Make sure keyspace events of ``event_class`` (``l`` lists, ``z`` sorted sets)
    are published, keeping the classes already on; False if we cannot."""
    try:
        current = client.config_get("notify-keyspace-events").get("notify-keyspace-events", "")
        flags = current.decode() if isinstance(current, bytes) else str(current)
        if "K" in flags and (event_class in flags or "A" in flags):
            return True
        client.config_set("notify-keyspace-events", "".join(sorted(set(flags + "K" + event_class))))
        return True
    except redis.ResponseError:
        return False


class KeyspaceWaiter:
    """Block until Redis reports one of ``events`` on keys matching ``pattern``."""

    def __init__(
        self,
        client: redis.Redis,
        pattern: str,
        events: frozenset[bytes],
        event_class: str,
        fallback_poll: float,
    ) -> None:
        self.redis = client
        self.events = events
        self.fallback_poll = fallback_poll
        self.enabled = ensure_keyspace_events(client, event_class)
        self.pubsub: redis.client.PubSub | None = None
        if self.enabled:
            db = client.connection_pool.connection_kwargs.get("db", 0)
            self.pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            self.pubsub.psubscribe(f"__keyspace@{db}__:{pattern}")

    def wait(self, timeout: float) -> bool:
        """Block until a push happens (True) or ``timeout`` passes (False).

        Raises ``redis.ConnectionError`` when Redis is gone; calling again later
        reconnects and resubscribes.
        """
        if self.pubsub is None:
            time.sleep(min(timeout, self.fallback_poll))
            return True
        woke = False
        deadline = time.monotonic() + timeout
        while True:
            remaining = 0.0 if woke else max(0.0, deadline - time.monotonic())
            message = self.pubsub.get_message(timeout=remaining)
            if message is None:
                # Nothing more buffered, or a subscribe confirmation we ignore.
                if woke or time.monotonic() >= deadline:
                    return woke
                continue
            if message.get("data") in self.events:
                woke = True

    def close(self) -> None:
        if self.pubsub is not None:
            self.pubsub.close()


class QueueWaiter(KeyspaceWaiter):
    """Wakes on a push to any ``<ns>:queue:*`` list."""

    def __init__(self, client: redis.Redis, keys: Keys, fallback_poll: float = 0.1) -> None:
        super().__init__(client, f"{keys.queue_prefix}*", PUSH_EVENTS, "l", fallback_poll)


class ScheduleWaiter(KeyspaceWaiter):
    """Wakes when a timestamp is added to ``<ns>:delayed_queue_schedule``."""

    def __init__(self, client: redis.Redis, keys: Keys, fallback_poll: float = 1.0) -> None:
        super().__init__(client, keys.delayed_schedule, frozenset({b"zadd"}), "z", fallback_poll)
