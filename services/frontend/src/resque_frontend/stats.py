"""The Stats page: Resque.info, Redis INFO, and a browser of the namespace's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis
from flask import Blueprint, abort, render_template

from resque_frontend import reads, refusals
from resque_frontend.context import int_arg, resque, settings
from resque_proto import Resque
from resque_proto.redis_config import redacted
from resque_proto.text import text, texts

blueprint = Blueprint("stats", __name__)

SCAN_BATCH = 500
VALUE_ITEMS = 100
STRING_PREVIEW = 64 * 1024
INFO_FIELDS = (
    "redis_version", "redis_mode", "os", "uptime_in_days", "connected_clients",
    "blocked_clients", "used_memory_human", "used_memory_peak_human", "maxmemory_human",
    "maxmemory_policy", "mem_fragmentation_ratio", "aof_enabled", "rdb_last_save_time",
    "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
    "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys", "role",
)  # fmt: skip


@dataclass(frozen=True)
class KeyRow:
    name: str
    type: str
    size: int | None
    ttl: int


def redacted_url(url: str) -> str:
    """The Redis URL without its password (any form, redis+sentinel:// included)."""
    return redacted(url)


def _size_command(pipe: Any, kind: str, key: str) -> bool:
    command = {"list": pipe.llen, "set": pipe.scard, "hash": pipe.hlen, "zset": pipe.zcard,
               "string": pipe.strlen, "stream": pipe.xlen}.get(kind)  # fmt: skip
    if command is None:
        return False
    command(key)
    return True


def key_rows(r: Resque, names: list[str]) -> list[KeyRow]:
    """Type, size and TTL of each key in two pipelined round trips."""
    pipe = r.redis.pipeline(transaction=False)
    for name in names:
        pipe.type(name)
        pipe.ttl(name)
    meta = pipe.execute()
    kinds = [text(k) or "none" for k in meta[0::2]]
    pipe = r.redis.pipeline(transaction=False)
    sized = [_size_command(pipe, kind, name) for name, kind in zip(names, kinds, strict=True)]
    sizes = iter(pipe.execute())
    return [
        KeyRow(name, kind, int(next(sizes)) if has else None, int(ttl))
        for name, kind, has, ttl in zip(names, kinds, sized, meta[1::2], strict=True)
    ]


def key_value(r: Resque, key: str, kind: str) -> Any:
    """The first ``VALUE_ITEMS`` entries of a key, shaped for display."""
    client = r.redis
    if kind == "string":
        return text(client.getrange(key, 0, STRING_PREVIEW - 1))
    if kind == "list":
        return texts(client.lrange(key, 0, VALUE_ITEMS - 1))
    if kind == "set":
        _, members = client.sscan(key, 0, count=VALUE_ITEMS)
        return sorted(texts(members))[:VALUE_ITEMS]
    if kind == "hash":
        _, pairs = client.hscan(key, 0, count=VALUE_ITEMS)
        fields = cast(dict[bytes, bytes], pairs)
        return sorted((text(k) or "", text(v) or "") for k, v in fields.items())[:VALUE_ITEMS]
    if kind == "zset":
        scored = cast(
            list[tuple[bytes, float]], client.zrange(key, 0, VALUE_ITEMS - 1, withscores=True)
        )
        return [(text(member) or "", score) for member, score in scored]
    return None


@blueprint.get("/stats")
def stats() -> str:
    r = resque()
    totals = reads.totals(r)
    info = redis_info(r)
    pending = sum(r.queues.sizes(totals.queue_names).values())
    rows = [(name, info[name]) for name in INFO_FIELDS if name in info] if info else [
        ("INFO", "not shown: the Redis user may not run INFO (see docs/redis.md)")]  # fmt: skip
    return render_template(
        "stats.html", totals=totals, pending=pending,
        redis_url=redacted_url(settings().redis_url), info=rows,
        keyspace={k: v for k, v in info.items() if k.startswith("db")},
    )  # fmt: skip


def redis_info(r: Resque) -> dict[str, Any]:
    """Redis's INFO; empty when the user may not run it (INFO is ``@dangerous``):
    the page then says so in the INFO table instead of being an error page."""
    try:
        return r.redis.info()
    except redis.exceptions.NoPermissionError as error:
        refusals.refused("INFO", error)
        return {}


@blueprint.get("/stats/keys")
def keys() -> str:
    r = resque()
    totals = reads.totals(r)
    cursor = int_arg("cursor")
    prefix = f"{r.keys.namespace}:"
    following, found = r.redis.scan(cursor, match=f"{escape_glob(prefix)}*", count=SCAN_BATCH)
    names = sorted(texts(found))
    return render_template(
        "keys.html", totals=totals, rows=key_rows(r, names), next_cursor=int(following),
        cursor=cursor, prefix=prefix,
    )  # fmt: skip


@blueprint.get("/stats/keys/<path:key>")
def key(key: str) -> str:
    r = resque()
    totals = reads.totals(r)
    if not key.startswith(f"{r.keys.namespace}:"):
        abort(404, "Only keys of this Resque namespace can be browsed.")
    rows = key_rows(r, [key])
    if rows[0].type == "none":
        abort(404, "That key does not exist (any more).")
    return render_template(
        "key.html", totals=totals, row=rows[0], value=key_value(r, key, rows[0].type),
        limit=VALUE_ITEMS, preview=STRING_PREVIEW,
    )  # fmt: skip


def escape_glob(value: str) -> str:
    """Escape Redis glob characters so a namespace matches literally."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in value)
