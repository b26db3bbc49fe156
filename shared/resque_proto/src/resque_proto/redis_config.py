"""Where Redis is and how to log in: the ``REDIS_*`` settings every part reads.

One contract for the enqueuer, worker, scheduler, frontend and CLI (docs/redis.md):

- ``REDIS_URL``: ``redis://[user:pass@]host:port/db``, ``rediss://...`` (TLS),
  ``unix:///path/to/socket[?db=N]`` or
  ``redis+sentinel://[user:pass@]host1:26379,host2:26379/<master>[/<db>]``;
  ``REDIS_URL_FILE`` reads it from a file (not both).
- ``REDIS_USERNAME``, ``REDIS_PASSWORD`` / ``REDIS_PASSWORD_FILE``: the data nodes'
  ACL credentials (they win over the URL's).
- ``REDIS_TLS_CA_FILE``, ``REDIS_TLS_CERT_FILE``, ``REDIS_TLS_KEY_FILE``,
  ``REDIS_TLS_VERIFY`` (``required`` or ``none``).
- ``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER`` (instead of a sentinel URL),
  ``REDIS_SENTINEL_USERNAME``, ``REDIS_SENTINEL_PASSWORD`` / ``_FILE``.

Reading and checking them imports neither redis-py nor ``ssl`` (the enqueuer's
gunicorn master and the worker's fork server must stay free of both); every
mistake is a :class:`RedisConfigError` with one line naming the variable, and
no message or ``repr`` ever shows a password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_SENTINEL_PORT = 26379
DIRECT_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
TLS_VARIABLES = (
    "REDIS_TLS_CA_FILE",
    "REDIS_TLS_CERT_FILE",
    "REDIS_TLS_KEY_FILE",
    "REDIS_TLS_VERIFY",
)
VERIFY_MODES = ("required", "none")

__all__ = [
    "DEFAULT_REDIS_URL",
    "RedisConfigError",
    "RedisSettings",
    "TlsSettings",
    "redacted",
]


class RedisConfigError(ValueError):
    """A ``REDIS_*`` setting that cannot be used; the message names it (never a password)."""


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str | None = None  # None: the system's trusted CAs
    cert_file: str | None = None  # client certificate (for ``tls-auth-clients yes``)
    key_file: str | None = None  # its key (None: in cert_file)
    verify: bool = True  # False: ``REDIS_TLS_VERIFY=none`` (no certificate nor name check)


@dataclass(frozen=True)
class RedisSettings:
    """One way to reach the primary: a direct URL, or Sentinel and a master name."""

    url: str = field(repr=False)  # as configured: may hold a password; show ``display``
    scheme: str = "redis"  # redis, rediss, unix or redis+sentinel
    host: str = "localhost"
    port: int = 6379
    path: str | None = None  # unix socket
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    @property
    def display(self) -> str:
        """The URL without its password, for logs and error messages."""
        return redacted(self.url)

    @property
    def user(self) -> str:
        """The ACL user the data nodes see (``default`` when none is configured)."""
        return self.username or "default"

    @classmethod
    def from_url(cls, url: str, variable: str = "REDIS_URL") -> RedisSettings:
        """Settings from a URL alone (no environment); ``variable`` names it in errors."""
        url = url.strip()
        scheme, sep, _ = url.partition("://")
        scheme = scheme.lower()
        if not sep or not scheme:
            raise RedisConfigError(
                f"{variable}: {redacted(url)!r} is not a URL: expected redis://host:port/db, "
                "rediss://..., unix:///path or redis+sentinel://host:port,.../master"
            )
        if scheme == SENTINEL_SCHEME:
            return _sentinel_url(url, variable)
        if scheme not in DIRECT_SCHEMES:
            raise RedisConfigError(
                f"{variable}: unknown scheme {scheme}:// in {redacted(url)!r}: use redis://, "
                "rediss:// (TLS), unix:// or redis+sentinel:// (Redis Cluster is not supported)"
            )
        return _direct_url(url, scheme, variable)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, url: str | None = None
    ) -> RedisSettings:
        """Settings from the ``REDIS_*`` variables of ``env`` (default: ``os.environ``).

        ``url``: a URL given on the command line; it wins over ``REDIS_URL``,
        ``REDIS_URL_FILE`` and ``REDIS_SENTINELS``.
        """
        env = os.environ if env is None else env
        base = _base_from_env(env, url)
        username = _value(env, "REDIS_USERNAME") or base.username
        password = _secret(env, "REDIS_PASSWORD")
        settings = replace(
            base,
            username=username,
            password=password if password is not None else base.password,
            tls=_tls_from_env(env, base),
        )
        sentinel_username = _value(env, "REDIS_SENTINEL_USERNAME")
        sentinel_password = _secret(env, "REDIS_SENTINEL_PASSWORD")
        if settings.uses_sentinel:
            return replace(
                settings,
                sentinel_username=sentinel_username,
                sentinel_password=sentinel_password,
            )
        if sentinel_username or sentinel_password is not None:
            raise RedisConfigError(
                "REDIS_SENTINEL_USERNAME/REDIS_SENTINEL_PASSWORD are set but Redis is not "
                "reached through Sentinel (set REDIS_SENTINELS or a redis+sentinel:// URL)"
            )
        return settings


def redacted(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``; safe for any string."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    # The credentials end at the last "@" (a password may hold "/" or "@").
    at = rest.rfind("@")
    if at < 0:
        return url
    credentials, tail = rest[:at], rest[at + 1 :]
    user, colon, _ = credentials.partition(":")
    if not colon:
        return url  # a user name only
    return f"{scheme}://{user}:***@{tail}"


# -- parsing ---------------------------------------------------------------
def _direct_url(url: str, scheme: str, variable: str) -> RedisSettings:
    shown = redacted(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RedisConfigError(f"{variable}: {shown!r}: {_clean(error)}") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    query = parse_qs(parts.query, keep_blank_values=True)
    allowed = {"db"} if scheme == "unix" else {"ssl_cert_reqs"} if scheme == "rediss" else set()
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise RedisConfigError(
            f"{variable}: query parameter {unknown[0]!r} is not supported in {shown!r} "
            "(timeouts are set per part; TLS by REDIS_TLS_*; the database is the path)"
        )
    tls = None
    if scheme == "rediss":
        reqs = (query.get("ssl_cert_reqs") or ["required"])[-1].lower()
        if reqs not in VERIFY_MODES:
            raise RedisConfigError(f"{variable}: ssl_cert_reqs must be required or none")
        tls = TlsSettings(verify=reqs == "required")
    if scheme == "unix":
        if not parts.path:
            raise RedisConfigError(f"{variable}: {shown!r} has no socket path")
        db = _db(variable, (query.get("db") or ["0"])[-1], shown)
        return RedisSettings(
            url=url, scheme=scheme, path=unquote(parts.path), db=db,
            username=username, password=password,
        )  # fmt: skip
    if not parts.hostname:
        raise RedisConfigError(f"{variable}: {shown!r} has no host")
    return RedisSettings(
        url=url,
        scheme=scheme,
        host=unquote(parts.hostname),
        port=port or 6379,
        db=_db(variable, parts.path.strip("/") or "0", shown),
        username=username,
        password=password,
        tls=tls,
    )


def _sentinel_url(url: str, variable: str) -> RedisSettings:
    shown = redacted(url)
    rest = url.partition("://")[2]
    if "?" in rest or "#" in rest:
        raise RedisConfigError(f"{variable}: query parameters are not supported in {shown!r}")
    at = rest.rfind("@")
    credentials, rest = (rest[:at], rest[at + 1 :]) if at >= 0 else ("", rest)
    hosts, _, path = rest.partition("/")
    user, colon, secret = credentials.partition(":")
    names = [unquote(part) for part in path.split("/")] if path else []
    if not names or not names[0]:
        raise RedisConfigError(
            f"{variable}: {shown!r} names no master: "
            "redis+sentinel://host:26379,host2:26379/<master name>[/<db>]"
        )
    if len(names) > 2:
        raise RedisConfigError(f"{variable}: {shown!r}: expected /<master name>[/<db>]")
    return RedisSettings(
        url=url,
        scheme=SENTINEL_SCHEME,
        db=_db(variable, names[1], shown) if len(names) == 2 else 0,
        username=unquote(user) or None,
        password=unquote(secret) if colon else None,
        sentinels=_host_list(variable, hosts, shown),
        master=names[0],
        host="",
        port=0,
    )


def _host_list(variable: str, text: str, shown: str) -> tuple[tuple[str, int], ...]:
    hosts: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?", item)
        if match is None:
            raise RedisConfigError(f"{variable}: {item!r} is not host[:port] (in {shown!r})")
        host = match.group(1) or match.group(3)
        port = int(match.group(2) or match.group(4) or DEFAULT_SENTINEL_PORT)
        if not 0 < port < 65536:
            raise RedisConfigError(f"{variable}: port {port} out of range (in {shown!r})")
        hosts.append((host, port))
    if not hosts:
        raise RedisConfigError(f"{variable}: no sentinel host:port in {shown!r}")
    return tuple(hosts)


def _db(variable: str, text: str, shown: str) -> int:
    if not text.isdigit():
        raise RedisConfigError(f"{variable}: database {text!r} is not a number (in {shown!r})")
    return int(text)


def _clean(error: Exception) -> str:
    # urllib's messages may quote the netloc; never let a password through.
    return re.sub(r"'[^']*'", "'...'", str(error))


# -- environment -------------------------------------------------------------
def _value(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _read_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise RedisConfigError(f"{name}: cannot read {path}: {reason}") from None


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """``NAME`` or the content of ``NAME_FILE`` (one trailing newline dropped); not both."""
    direct = env.get(name) or None
    path = _value(env, f"{name}_FILE")
    if direct is not None and path:
        raise RedisConfigError(f"set {name} or {name}_FILE, not both")
    if not path:
        return direct
    content = _read_file(f"{name}_FILE", path)
    content = content[:-1] if content.endswith("\n") else content
    content = content[:-1] if content.endswith("\r") else content
    if not content:
        raise RedisConfigError(f"{name}_FILE: {path} is empty")
    return content


def _base_from_env(env: Mapping[str, str], flag_url: str | None) -> RedisSettings:
    url = _value(env, "REDIS_URL")
    url_file = _value(env, "REDIS_URL_FILE")
    if url and url_file:
        raise RedisConfigError("set REDIS_URL or REDIS_URL_FILE, not both")
    if flag_url:
        return RedisSettings.from_url(flag_url, "--redis-url")
    variable = "REDIS_URL"
    if url_file:
        url = _read_file("REDIS_URL_FILE", url_file).strip()
        variable = "REDIS_URL_FILE"
        if not url:
            raise RedisConfigError(f"REDIS_URL_FILE: {url_file} is empty")
    sentinels = _value(env, "REDIS_SENTINELS")
    master = _value(env, "REDIS_SENTINEL_MASTER")
    if sentinels:
        if url:
            raise RedisConfigError(
                f"set {variable} or REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER), not both"
            )
        if not master:
            raise RedisConfigError(
                "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not: name the master "
                "the sentinels monitor (e.g. mymaster)"
            )
        hosts = _host_list("REDIS_SENTINELS", sentinels, sentinels)
        listed = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts)
        return RedisSettings(
            url=f"{SENTINEL_SCHEME}://{listed}/{master}",
            scheme=SENTINEL_SCHEME,
            host="",
            port=0,
            sentinels=hosts,
            master=master,
        )
    if master:
        raise RedisConfigError(
            "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not (a redis+sentinel:// URL "
            "carries its own master name)"
        )
    return RedisSettings.from_url(url or DEFAULT_REDIS_URL, variable)


def _tls_from_env(env: Mapping[str, str], base: RedisSettings) -> TlsSettings | None:
    given = [name for name in TLS_VARIABLES if _value(env, name)]
    if not given:
        return base.tls
    if base.scheme in ("redis", "unix"):
        raise RedisConfigError(
            f"{given[0]} is set but the Redis URL is {base.scheme}:// (no TLS): use rediss:// "
            "for TLS, or unset the REDIS_TLS_* variables"
        )
    verify_text = (_value(env, "REDIS_TLS_VERIFY") or "").lower()
    if verify_text and verify_text not in VERIFY_MODES:
        raise RedisConfigError(f"REDIS_TLS_VERIFY must be required or none, got {verify_text!r}")
    verify = verify_text == "required" if verify_text else (base.tls or TlsSettings()).verify
    ca_file = _pem_file(env, "REDIS_TLS_CA_FILE", "CERTIFICATE")
    cert_file = _pem_file(env, "REDIS_TLS_CERT_FILE", "CERTIFICATE")
    key_file = _pem_file(env, "REDIS_TLS_KEY_FILE", "PRIVATE KEY")
    if key_file and not cert_file:
        raise RedisConfigError("REDIS_TLS_KEY_FILE is set but REDIS_TLS_CERT_FILE is not")
    if (
        cert_file
        and not key_file
        and "PRIVATE KEY-----" not in _read_file("REDIS_TLS_CERT_FILE", cert_file)
    ):
        raise RedisConfigError(
            f"REDIS_TLS_CERT_FILE: {cert_file} holds no private key: set REDIS_TLS_KEY_FILE"
        )
    return TlsSettings(ca_file=ca_file, cert_file=cert_file, key_file=key_file, verify=verify)


def _pem_file(env: Mapping[str, str], name: str, kind: str) -> str | None:
    """A readable PEM file holding a ``kind`` block (checked without loading ``ssl``)."""
    path = _value(env, name)
    if path is None:
        return None
    content = _read_file(name, path)
    if f"-----BEGIN {kind}-----" not in content and not (
        kind == "PRIVATE KEY" and re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", content)
    ):
        raise RedisConfigError(f"{name}: {path} is not a PEM file with a {kind.lower()}")
    return path
