"""What each part may need to run on Redis, and a start-up check that it may.

With least-privilege Redis ACL users (docs/redis.md), a user missing one
command would otherwise fail deep inside a loop, over and over. At start-up each
long-running part probes its commands on one connection, without changing
anything: ``WATCH``/``EXEC``/``DISCARD``/``UNWATCH`` outside a transaction (an
``EXEC`` without ``MULTI`` is an error, not an execution), then ``MULTI``, every
other command with a key of the namespace (and the keyspace channel the part
subscribes to), and ``DISCARD``. Redis checks permissions when it queues a
command, so each answer is ``QUEUED`` or ``NOPERM``; nothing is ever executed.
This works for a restricted user (``ACL DRYRUN`` and ``ACL GETUSER`` need admin
rights).

Commands without side effects (reads, ``PING``, ``TIME``, ``INFO``) are sent
outside the transaction, on a key of the namespace that does not exist: running
them changes nothing, and a user without ``MULTI`` (``+@read``) is still checked.

``CONFIG GET``/``CONFIG SET notify-keyspace-events`` are optional (without them
the worker and scheduler poll, see resque_proto.waiter) and are not checked.
The commands in ``FALLBACKS`` are checked but not required: each part has a
fallback without them, and a refusal is a start-up warning, not an error.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.sentinel

from resque_proto.keys import OUR_PREFIX, Keys
from resque_proto.redis_config import RedisSettings

NO_SHA = "0" * 40
OUTSIDE_MULTI = ("WATCH", "EXEC", "DISCARD", "UNWATCH")
# No side effects on a key that does not exist: probed outside the transaction.
HARMLESS = frozenset((
    "PING", "INFO", "TIME", "SCRIPT|EXISTS", "SCAN", "EXISTS", "TYPE", "TTL", "GET",
    "GETRANGE", "STRLEN", "LLEN", "LINDEX", "LPOS", "LRANGE", "SCARD", "SISMEMBER", "SMEMBERS",
    "SSCAN", "HGET", "HMGET", "HGETALL", "HKEYS", "HLEN", "HSCAN", "ZCARD", "ZRANGE",
    "ZRANGEBYSCORE", "XLEN",
))  # fmt: skip
DOCS = "docs/redis.md"

# Probe arguments: {k} is a key of the namespace, {c} the part's keyspace channel.
PROBE_ARGS: dict[str, tuple[str, ...]] = {
    "PING": (),
    "INFO": ("server",),
    "TIME": (),
    "WAIT": ("0", "0"),
    "EVALSHA": (NO_SHA, "1", "{k}"),
    "EVAL": ("return 1", "1", "{k}"),
    "SCRIPT|LOAD": ("return 1",),
    "SCRIPT|EXISTS": (NO_SHA,),
    "PSUBSCRIBE": ("{c}",),
    "WATCH": ("{k}",),
    "UNWATCH": (),
    "MULTI": (),
    "EXEC": (),
    "DISCARD": (),
    "SELECT": ("0",),
    "CONFIG|GET": ("notify-keyspace-events",),
    "CONFIG|SET": ("notify-keyspace-events", ""),
    "SCAN": ("0", "MATCH", "{k}", "COUNT", "1"),
    "DEL": ("{k}",),
    "EXISTS": ("{k}",),
    "EXPIRE": ("{k}", "1"),
    "TYPE": ("{k}",),
    "TTL": ("{k}",),
    "GET": ("{k}",),
    "GETRANGE": ("{k}", "0", "1"),
    "SET": ("{k}", "x"),
    "STRLEN": ("{k}",),
    "INCR": ("{k}",),
    "LLEN": ("{k}",),
    "LINDEX": ("{k}", "0"),
    "LPOS": ("{k}", "x"),
    "LRANGE": ("{k}", "0", "0"),
    "LPOP": ("{k}",),
    "LPUSH": ("{k}", "x"),
    "RPUSH": ("{k}", "x"),
    "LREM": ("{k}", "0", "x"),
    "LSET": ("{k}", "0", "x"),
    "SADD": ("{k}", "x"),
    "SREM": ("{k}", "x"),
    "SCARD": ("{k}",),
    "SISMEMBER": ("{k}", "x"),
    "SMEMBERS": ("{k}",),
    "SSCAN": ("{k}", "0"),
    "HGET": ("{k}", "x"),
    "HMGET": ("{k}", "x"),
    "HGETALL": ("{k}",),
    "HKEYS": ("{k}",),
    "HLEN": ("{k}",),
    "HSCAN": ("{k}", "0"),
    "HSET": ("{k}", "x", "y"),
    "HSETNX": ("{k}", "x", "y"),
    "HDEL": ("{k}", "x"),
    "HINCRBY": ("{k}", "x", "1"),
    "HINCRBYFLOAT": ("{k}", "x", "1"),
    "ZADD": ("{k}", "1", "x"),
    "ZREM": ("{k}", "x"),
    "ZCARD": ("{k}",),
    "ZRANGE": ("{k}", "0", "0"),
    "ZRANGEBYSCORE": ("{k}", "0", "1"),
    "XLEN": ("{k}",),
}

CONNECTION = {"PING": "health checks"}
SCRIPTS = {"EVALSHA": "Lua scripts", "SCRIPT|LOAD": "Lua scripts"}
TRANSACTIONS = {name: "transactions" for name in ("MULTI", "EXEC", "DISCARD")}
STATUS = {"TIME": "job statuses", "SET": "job statuses"}


def _need(purpose: str, names: str) -> dict[str, str]:
    return {name: purpose for name in names.split()}


# Commands each part runs, including those its Lua scripts call (ACLs apply there
# too), each with what it is for. docs/redis.md shows the same lists as ACL rules.
NEEDS: dict[str, dict[str, str]] = {
    "worker": {
        **CONNECTION,
        **SCRIPTS,
        **TRANSACTIONS,
        **STATUS,
        **_need("reserving jobs", "EXISTS LPOP RPUSH"),
        **_need("settling jobs", "TYPE LREM DEL INCR HDEL HINCRBY HINCRBYFLOAT SADD ZADD LPUSH"),
        **_need("registration and heartbeats", "SREM HSET SISMEMBER"),
        **_need("wildcard queues and pausing", "SMEMBERS GET"),
        **_need("pruning dead workers", "HGETALL WATCH UNWATCH LRANGE HMGET HGET"),
        **_need("waking on pushes", "PSUBSCRIBE"),
    },
    "scheduler": {
        **CONNECTION,
        **SCRIPTS,
        **TRANSACTIONS,
        **STATUS,
        **_need(
            "moving due delayed jobs",
            "TYPE LLEN LPOP LRANGE LREM RPUSH SADD SREM SMEMBERS DEL ZRANGE ZRANGEBYSCORE ZREM "
            "HINCRBY HINCRBYFLOAT",
        ),
        **_need("the leader lock", "GET EXPIRE"),
        **_need("recurring schedules", "HGET HGETALL HSET HDEL"),
        **_need("waking on new delayed jobs", "PSUBSCRIBE"),
    },
    "enqueuer": {
        **CONNECTION,
        **SCRIPTS,
        **_need("enqueuing (one script call per request)", "SADD RPUSH ZADD SET TYPE GET"),
        **_need("the start-up check (writes probed inside MULTI, then DISCARD)", "MULTI DISCARD"),
    },
}
# The dashboard's pages only read (all in Redis's @read category); the rest has a
# fallback (FALLBACKS), so a +@read user can run it.
NEEDS["frontend-read-only"] = {
    **_need(
        "showing queues, jobs, failures, workers and schedules",
        "EXISTS GET LLEN LINDEX LRANGE LPOS SCARD SISMEMBER SMEMBERS HGET HMGET HGETALL ZCARD "
        "ZRANGE",
    ),
    **_need("the keys pages", "SCAN TYPE TTL GETRANGE STRLEN HLEN XLEN SSCAN HSCAN"),
}
NEEDS["frontend"] = NEEDS["frontend-read-only"]
FRONTEND_FALLBACKS = {
    **_need("readiness, else any answer from Redis counts", "PING"),
    **_need("Redis's clock, else this host's", "TIME"),
    **_need("the Redis INFO section of the stats page, else not shown", "INFO"),
    **_need(
        "the throughput chart, else not shown, and counting delayed jobs, else the Delayed "
        "page fails",
        "EVALSHA SCRIPT|LOAD HSETNX HDEL HKEYS",
    ),
    **_need("checking the history's commands at start, else not checked", "MULTI EXEC DISCARD"),
}
# Without the commands of a part's fallbacks it still runs, doing without (a warning).
FALLBACKS: dict[str, dict[str, str]] = {
    "worker": _need(
        "Redis's uptime for the dead-worker pruner, else how long the worker has seen it up",
        "INFO",
    ),
    "frontend-read-only": FRONTEND_FALLBACKS,
    "frontend": {
        **FRONTEND_FALLBACKS,
        **_need(
            "actions (retry, remove, pause, run now, prune), else refused",
            "MULTI EXEC DISCARD SET DEL RPUSH LPUSH LPOP LREM LSET SADD SREM INCR HSET HINCRBY "
            "HINCRBYFLOAT ZADD ZREM ZRANGEBYSCORE WATCH UNWATCH SCRIPT|EXISTS",
        ),
    },
}
OPTIONAL: dict[str, dict[str, str]] = {
    "worker": _need("enabling keyspace notifications (else polling)", "CONFIG|GET CONFIG|SET"),
    "scheduler": _need("enabling keyspace notifications (else polling)", "CONFIG|GET CONFIG|SET"),
    "enqueuer": _need("ENQUEUER_MIN_REPLICAS", "WAIT"),
}


def channel_pattern(part: str, keys: Keys, db: int = 0) -> str | None:
    """The keyspace-notification pattern ``part`` subscribes to (None: none)."""
    if part == "worker":
        return f"__keyspace@{db}__:{keys.queue_prefix}*"
    if part == "scheduler":
        return f"__keyspace@{db}__:{keys.delayed_schedule}"
    return None


def acl_rule(
    part: str,
    namespace: str = "resque",
    user: str = "resque",
    password: str = "<password>",
    db: int = 0,
    extra: Iterable[str] = (),
) -> str:
    """The ``ACL SETUSER``/users.acl rule that lets ``part`` do its work (docs/redis.md)."""
    keys = Keys(namespace)
    commands = [*NEEDS[part], *FALLBACKS.get(part, {}), *OPTIONAL.get(part, {}), *extra]
    if db:
        commands.append("SELECT")
    channel = channel_pattern(part, keys, db)
    channels = f"resetchannels &{channel}" if channel else "resetchannels"
    listed = " ".join(f"+{name.lower()}" for name in sorted(dict.fromkeys(commands)))
    return f"user {user} on >{password} resetkeys ~{namespace}:* {channels} -@all {listed}"


@dataclass(frozen=True)
class Denied:
    """What a user may not do: commands, keys of the namespace, the keyspace channel."""

    commands: tuple[str, ...] = ()
    keys: bool = False
    channels: bool = False

    def __bool__(self) -> bool:
        return bool(self.commands or self.keys or self.channels)


class StartupError(Exception):
    """A Redis problem that restarting will not fix: one line for stderr, then exit 2."""


class _Probe:
    def __init__(self, connection: Any, key: str, channel: str | None) -> None:
        self.connection = connection
        self.key = key
        self.channel = channel or ""
        self.commands: list[str] = []
        self.keys = False
        self.channels = False

    def argv(self, name: str) -> tuple[str, ...]:
        words = tuple(name.split("|"))
        args = PROBE_ARGS[name]  # every probe is spelled out: a wrong one could run
        return (*words, *(a.format(k=self.key, c=self.channel) for a in args))

    def open_transaction(self) -> bool:
        """``MULTI``: True only if the transaction is open (else nothing more is sent)."""
        self.connection.send_command("MULTI")
        try:
            reply = self.connection.read_response()
        except redis.exceptions.NoPermissionError:
            self.commands.append("MULTI")
            return False
        if reply not in (b"OK", "OK"):
            raise redis.ResponseError(f"unexpected reply to MULTI: {reply!r}")
        return True

    def send(self, names: Sequence[str], then: Sequence[tuple[str, ...]] = ()) -> list[str]:
        """Send ``names`` (then ``then``) in one round trip; the names refused."""
        argvs = [self.argv(name) for name in names]
        self.connection.send_packed_command(self.connection.pack_commands([*argvs, *then]))
        refused: list[str] = []
        for index in range(len(argvs) + len(then)):
            try:
                self.connection.read_response()
            except redis.exceptions.NoPermissionError as error:
                if index >= len(argvs):
                    continue
                if "one of the keys" in str(error):
                    self.keys = True
                elif "one of the channels" in str(error):
                    self.channels = True
                else:
                    refused.append(names[index])
            except redis.ResponseError:
                pass  # e.g. "EXEC without MULTI": allowed (and nothing ran)
        self.commands += refused
        return refused


def probe(
    client: redis.Redis, commands: Iterable[str], namespace: str, channel: str | None = None
) -> Denied:
    """What the client's user may not do among ``commands`` (nothing is executed).

    Raises redis.ConnectionError/TimeoutError when Redis cannot be reached.
    """
    names = list(dict.fromkeys(commands))
    outside = [name for name in names if name in OUTSIDE_MULTI or name in HARMLESS]
    inside = [name for name in names if name not in outside and name != "MULTI"]
    connection: Any = client.connection_pool.get_connection()
    try:
        check = _Probe(connection, Keys(namespace)._k(OUR_PREFIX, "acl-probe"), channel)
        if outside:
            check.send(outside)
        # Never send the probes unless the transaction is open: they would run.
        if check.open_transaction():
            check.send(inside, then=[("DISCARD",)])
    finally:
        connection.disconnect()  # whatever state the probe left goes with the socket
        client.connection_pool.release(connection)
    return Denied(tuple(dict.fromkeys(check.commands)), check.keys, check.channels)


def check_permissions(
    client: redis.Redis,
    part: str,
    program: str,
    settings: RedisSettings,
    namespace: str,
    extra: Iterable[str] = (),
) -> str | None:
    """Check at start-up that ``part`` may do its work on Redis.

    Raises :class:`StartupError` (one line, never a password) when it may not, or
    when Redis refuses the credentials or the TLS handshake. Returns a warning
    when Redis cannot be reached now (the part starts anyway and keeps retrying).
    """
    optional = OPTIONAL.get(part, {})
    purposes = {**NEEDS[part], **{name: optional.get(name, name) for name in extra}}
    fallbacks = {k: v for k, v in FALLBACKS.get(part, {}).items() if k not in purposes}
    channel = channel_pattern(part, Keys(namespace), settings.db)
    try:
        denied = probe(client, [*purposes, *fallbacks], namespace, channel)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        fatal = unusable(error, settings)
        if fatal:
            raise StartupError(f"{program}: {fatal}") from None
        return (
            f"cannot check Redis permissions now ({describe(error, settings)}); "
            "starting anyway, retrying Redis with backoff"
        )
    except redis.exceptions.NoPermissionError as error:  # while connecting: SELECT
        raise StartupError(
            f"{program}: Redis user {settings.user} may not connect as configured "
            f"(database {settings.db} needs SELECT): {error}; see {DOCS} for the ACL rules"
        ) from None
    except redis.ResponseError as error:
        return f"cannot check Redis permissions now ({describe(error, settings)}); starting anyway"
    required = Denied(
        tuple(name for name in denied.commands if name in purposes), denied.keys, denied.channels
    )
    if required:
        raise StartupError(f"{program}: {denial_message(required, purposes, settings, channel)}")
    without = [name for name in denied.commands if name in fallbacks]
    if not without:
        return None
    warning = denial_message(Denied(tuple(without)), fallbacks, settings, channel, "used for")
    if "MULTI" in without:
        skipped = HARMLESS | {*OUTSIDE_MULTI, "MULTI"}
        unchecked = ", ".join(name for name in fallbacks if name not in skipped)
        warning += f"; without MULTI these were not checked: {unchecked}"
    return warning


def denial_message(
    denied: Denied,
    purposes: dict[str, str],
    settings: RedisSettings,
    channel: str | None,
    needed: str = "needed for",
) -> str:
    parts: list[str] = []
    if denied.commands:
        why = "; ".join(dict.fromkeys(purposes.get(n, "") for n in denied.commands))
        parts.append(f"may not run {', '.join(denied.commands)} ({needed} {why})")
    if denied.keys:
        parts.append("may not use the keys of its namespace")
    if denied.channels:
        parts.append(f"may not subscribe to {channel}")
    return f"Redis user {settings.user} {'; '.join(parts)}; see {DOCS} for the ACL rules"


def unusable(error: Exception, settings: RedisSettings) -> str | None:
    """Why Redis will not take us even once it answers: credentials or TLS (or None)."""
    where = f"Redis at {settings.display}"
    if isinstance(error, redis.AuthenticationError):
        return f"{where} refused the credentials of user {settings.user}: {error}"
    text = str(error)
    chain: BaseException | None = error
    while chain is not None:
        if isinstance(chain, ssl.SSLError) or "[SSL" in str(chain):
            return f"TLS with {where} failed: {_one_line(text)}"
        chain = chain.__cause__ or chain.__context__
    if isinstance(error, redis.sentinel.MasterNotFoundError):
        sentinels = ",".join(f"{host}:{port}" for host, port in settings.sentinels)
        if "AuthenticationError" in text:
            user = settings.sentinel_username or "default"
            return f"the sentinels {sentinels} refused the credentials of user {user}"
        if "[SSL" in text or "SSL" in text:
            return f"TLS with the sentinels {sentinels} failed (check REDIS_TLS_*)"
    return None


def describe(error: Exception, settings: RedisSettings) -> str:
    """A short line for ``error`` (redis-py's Sentinel errors repeat whole clients)."""
    if isinstance(error, redis.sentinel.MasterNotFoundError):
        sentinels = ",".join(f"{host}:{port}" for host, port in settings.sentinels)
        return f"no primary {settings.master!r} known to the sentinels {sentinels}"
    return f"{type(error).__name__}: {_one_line(str(error))}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
