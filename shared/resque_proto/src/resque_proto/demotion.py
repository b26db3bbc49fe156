"""Connections that treat a ``READONLY`` reply as "the primary is gone: reconnect".

After a failover the old primary, if it is still up, becomes a replica and
refuses writes with ``READONLY``. redis-py raises ``ReadOnlyError``, a
``ResponseError``, which the parts would treat as a refused command. These
connection classes raise :class:`PrimaryDemoted` instead, a
``redis.ConnectionError``, so every part takes its reconnect-with-backoff path;
they also drop their pool's idle connections, so no pooled socket keeps talking
to the demoted node (under Sentinel the next connection asks the sentinels for
the new primary; with a direct URL, e.g. a managed service's endpoint, it
resolves the name again).

They also keep redis-py's own command packer where hiredis is installed (an
application's image may have it), see :class:`ExactBytesPacking`.

Imported by ``resque_proto.connection.connect`` only (it loads redis-py).
"""

from __future__ import annotations

import weakref
from typing import Any

import redis
from redis import connection as rc
from redis import sentinel as rs
from redis.exceptions import ReadOnlyError

POOL_KWARG = "resque_pool"  # how our pool hands its connections a weak reference to itself


class PrimaryDemoted(redis.ConnectionError):
    """Redis answered ``READONLY``: it is a replica now; reconnect to the primary."""


class DemotionAware:
    """Mixin for connection classes: ``READONLY`` becomes :class:`PrimaryDemoted`."""

    def __init__(self, **kwargs: Any) -> None:
        self._resque_pool: weakref.ref[Any] | None = kwargs.pop(POOL_KWARG, None)
        super().__init__(**kwargs)

    def _read(self, *args: Any, **kwargs: Any) -> Any:
        return super().read_response(*args, **kwargs)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._read(*args, **kwargs)
        except ReadOnlyError as error:
            self._drop_pool()
            raise PrimaryDemoted(
                f"{error} (the primary was demoted, a failover?): reconnecting"
            ) from error

    def _owner(self) -> Any:
        if self._resque_pool is not None:
            return self._resque_pool()
        proxy = getattr(self, "connection_pool", None)  # a Sentinel pool's proxy
        ref = getattr(proxy, "connection_pool_ref", None)
        return ref() if ref is not None else None

    def _drop_pool(self) -> None:
        self.disconnect()  # type: ignore[attr-defined]
        pool = self._owner()
        if pool is not None:
            pool.disconnect(inuse_connections=False)


class ExactBytesPacking:
    """Mixin: pack commands with redis-py's packer, never hiredis's.

    hiredis's packer encodes ``str`` arguments as strict UTF-8 and ignores
    ``encoding_errors``, so a payload that is not UTF-8 (read as ``str`` with
    surrogate escapes, e.g. a Ruby job's raw bytes) could not be written back
    byte for byte. Replies may still be parsed by hiredis.
    """

    _buffer_cutoff: int
    encoder: Any

    def _construct_command_packer(self, packer: Any) -> Any:
        return packer or rc.PythonRespSerializer(self._buffer_cutoff, self.encoder.encode)


class Connection(DemotionAware, ExactBytesPacking, rc.Connection):
    pass


class SSLConnection(DemotionAware, ExactBytesPacking, rc.SSLConnection):
    pass


class UnixConnection(DemotionAware, ExactBytesPacking, rc.UnixDomainSocketConnection):
    pass


class SentinelConnection(DemotionAware, ExactBytesPacking, rs.SentinelManagedConnection):
    def _read(self, *args: Any, **kwargs: Any) -> Any:
        # Past SentinelManagedConnection.read_response, which would turn READONLY
        # into a plain ConnectionError after dropping this connection only.
        return super(rs.SentinelManagedConnection, self).read_response(*args, **kwargs)


class SentinelSSLConnection(SentinelConnection, rs.SentinelManagedSSLConnection):
    pass


class ConnectionPool(rc.ConnectionPool):
    """A pool whose connections hold a weak reference to it (to drop the idle ones)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connection_kwargs[POOL_KWARG] = weakref.ref(self)
