"""resque-scheduler's leader lock (``resque_scheduler_master_lock``).

The value is ``<hostname>:<pid>`` as Ruby's ``Lock::Base#value``, plus a random
token of ours: in containers every scheduler has the same pid, so a restarted
container (same hostname) must not mistake its predecessor's lock for its own.
Acquiring is ``SET NX EX`` and renewing an ``EXPIRE`` that only the holder may do,
so Ruby and Python schedulers on one Redis elect one leader between them.
"""

from __future__ import annotations

import os
import secrets
import socket

import redis

from resque_proto.keys import Keys
from resque_proto.text import text

# KEYS[1] lock; ARGV: our value, timeout seconds. 1 = we hold it (now renewed).
ACQUIRE_OR_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
return 0
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lock_value() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaderLock:
    def __init__(self, client: redis.Redis, keys: Keys, timeout: int, value: str | None = None):
        self.redis = client
        self.key = keys.scheduler_lock
        self.timeout = timeout
        self.value = value or lock_value()
        self._acquire = client.register_script(ACQUIRE_OR_RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)

    def acquire_or_renew(self) -> bool:
        return bool(self._acquire(keys=[self.key], args=[self.value, self.timeout]))

    def release(self) -> bool:
        return bool(self._release(keys=[self.key], args=[self.value]))

    def holder(self) -> str | None:
        return text(self.redis.get(self.key))


def leader(client: redis.Redis, keys: Keys) -> str | None:
    """Who holds the lock now (any implementation), or None."""
    return text(client.get(keys.scheduler_lock))
