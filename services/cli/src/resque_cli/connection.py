"""The Redis connection: short timeouts so an unreachable Redis fails in seconds."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from resque_proto import Resque, connect

CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 10.0  # listing 100,000 failure records must fit in it


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for an error message."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_resque(redis_url: str, namespace: str) -> Resque:
    """A ``Resque`` on ``redis_url``; ValueError for a URL or setting redis-py rejects.

    Nothing is sent to Redis yet: the first command connects.
    """
    client = connect(redis_url, connect_timeout=CONNECT_TIMEOUT, socket_timeout=COMMAND_TIMEOUT)
    return Resque(client, namespace)
