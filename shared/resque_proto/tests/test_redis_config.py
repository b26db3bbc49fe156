"""The REDIS_* contract (docs/redis.md): every form, every mistake, no password shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resque_proto.redis_config import (
    DEFAULT_REDIS_URL,
    RedisConfigError,
    RedisSettings,
    TlsSettings,
    redacted,
)

SECRET = "s3cr3t-Pa55"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def settings(**env: str) -> RedisSettings:
    return RedisSettings.from_env(env)


def error_of(**env: str) -> str:
    with pytest.raises(RedisConfigError) as raised:
        RedisSettings.from_env(env)
    message = str(raised.value)
    assert "\n" not in message
    assert SECRET not in message
    return message


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    files = {"ca": CERT, "cert": CERT, "key": KEY, "both": CERT + KEY, "junk": "hello\n"}
    paths = {}
    for name, content in files.items():
        path = tmp_path / f"{name}.pem"
        path.write_text(content)
        paths[name] = str(path)
    return paths


# -- direct URLs -----------------------------------------------------------------
def test_nothing_set_is_the_local_default() -> None:
    found = settings()
    assert found.url == DEFAULT_REDIS_URL
    assert (found.scheme, found.host, found.port, found.db) == ("redis", "localhost", 6379, 0)
    assert found.tls is None and not found.uses_sentinel and found.user == "default"


def test_a_url_with_credentials_and_database() -> None:
    found = settings(REDIS_URL=f"redis://app:{SECRET}@cache.internal:6380/3")
    assert (found.host, found.port, found.db) == ("cache.internal", 6380, 3)
    assert (found.username, found.password) == ("app", SECRET)
    assert found.display == "redis://app:***@cache.internal:6380/3"
    assert SECRET not in repr(found)


def test_percent_encoded_credentials_are_decoded() -> None:
    found = settings(REDIS_URL="redis://:p%40ss%2Fword@h:1/0")
    assert found.username is None and found.password == "p@ss/word"


def test_rediss_turns_tls_on_with_verification() -> None:
    found = settings(REDIS_URL="rediss://h:6380")
    assert found.tls == TlsSettings(verify=True)
    assert found.db == 0


def test_rediss_ssl_cert_reqs_none_is_understood() -> None:
    assert settings(REDIS_URL="rediss://h?ssl_cert_reqs=none").tls == TlsSettings(verify=False)


def test_unix_socket_with_database() -> None:
    found = settings(REDIS_URL="unix:///run/redis.sock?db=2")
    assert (found.scheme, found.path, found.db) == ("unix", "/run/redis.sock", 2)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://h:6379", "unknown scheme http://"),
        ("redis-cluster://h:6379", "Redis Cluster is not supported"),
        ("localhost:6379", "not a URL"),
        ("redis://h:notaport/0", "REDIS_URL"),
        ("redis://h:6379/zero", "database 'zero' is not a number"),
        ("redis:///0", "has no host"),
        ("redis://h/0?socket_timeout=1", "'socket_timeout' is not supported"),
        ("rediss://h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be required or none"),
        ("unix://", "no socket path"),
    ],
)
def test_bad_urls(url: str, fragment: str) -> None:
    assert fragment in error_of(REDIS_URL=url)


def test_a_bad_url_never_shows_its_password() -> None:
    message = error_of(REDIS_URL=f"redis://app:{SECRET}@h:port/0")
    assert "app:***@" in message


# -- files -------------------------------------------------------------------------
def test_url_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "url"
    path.write_text(f"  redis://:{SECRET}@h:6379/1\n")
    found = settings(REDIS_URL_FILE=str(path))
    assert (found.host, found.db, found.password) == ("h", 1, SECRET)


def test_url_and_url_file_together_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "url"
    path.write_text("redis://h")
    message = error_of(REDIS_URL="redis://h", REDIS_URL_FILE=str(path))
    assert message == "set REDIS_URL or REDIS_URL_FILE, not both"


def test_unreadable_and_empty_url_files(tmp_path: Path) -> None:
    assert "REDIS_URL_FILE: cannot read" in error_of(REDIS_URL_FILE=str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert error_of(REDIS_URL_FILE=str(empty)) == f"REDIS_URL_FILE: {empty} is empty"


def test_a_bad_url_in_a_file_names_the_file_variable(tmp_path: Path) -> None:
    path = tmp_path / "url"
    path.write_text(f"http://u:{SECRET}@h")
    assert error_of(REDIS_URL_FILE=str(path)).startswith("REDIS_URL_FILE: unknown scheme")


def test_username_and_password_variables_win_over_the_url(tmp_path: Path) -> None:
    found = settings(REDIS_URL="redis://old:oldpw@h", REDIS_USERNAME="resque",
                     REDIS_PASSWORD=SECRET)  # fmt: skip
    assert (found.username, found.password) == ("resque", SECRET)
    path = tmp_path / "pw"
    path.write_text(SECRET + "\n")  # a secret file's trailing newline is not part of it
    assert settings(REDIS_PASSWORD_FILE=str(path)).password == SECRET


def test_password_and_password_file_together_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(SECRET)
    message = error_of(REDIS_PASSWORD=SECRET, REDIS_PASSWORD_FILE=str(path))
    assert message == "set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both"
    assert "cannot read" in error_of(REDIS_PASSWORD_FILE=str(path) + ".missing")


def test_an_explicit_url_wins_over_the_environment() -> None:
    found = RedisSettings.from_env(
        {"REDIS_URL": "redis://env:1", "REDIS_PASSWORD": SECRET}, url="redis://flag:2/4"
    )
    assert (found.host, found.port, found.db, found.password) == ("flag", 2, 4, SECRET)


# -- Sentinel ----------------------------------------------------------------------
def test_sentinel_url() -> None:
    found = settings(REDIS_URL=f"redis+sentinel://app:{SECRET}@s1:26380,s2,[::1]:26381/mymaster/2")
    assert found.uses_sentinel
    assert found.sentinels == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (found.master, found.db) == ("mymaster", 2)
    assert (found.username, found.password) == ("app", SECRET)  # the data nodes'
    assert found.tls is None
    assert found.display == "redis+sentinel://app:***@s1:26380,s2,[::1]:26381/mymaster/2"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("redis+sentinel://s1:26379", "names no master"),
        ("redis+sentinel://s1:26379/", "names no master"),
        ("redis+sentinel:///mymaster", "no sentinel host:port"),
        ("redis+sentinel://s1:99999/mymaster", "port 99999 out of range"),
        ("redis+sentinel://s1:port/mymaster", "is not host[:port]"),
        ("redis+sentinel://s1/mymaster/x", "database 'x' is not a number"),
        ("redis+sentinel://s1/m/1/2", "expected /<master name>[/<db>]"),
        ("redis+sentinel://s1/m?x=1", "query parameters are not supported"),
    ],
)
def test_bad_sentinel_urls(url: str, fragment: str) -> None:
    assert fragment in error_of(REDIS_URL=url)


def test_sentinel_variables(tmp_path: Path) -> None:
    path = tmp_path / "sentinel-pw"
    path.write_text(SECRET)
    found = settings(
        REDIS_SENTINELS="s1:26379, s2:26380", REDIS_SENTINEL_MASTER="mymaster",
        REDIS_USERNAME="resque", REDIS_PASSWORD="data-pw",
        REDIS_SENTINEL_USERNAME="watcher", REDIS_SENTINEL_PASSWORD_FILE=str(path),
    )  # fmt: skip
    assert found.sentinels == (("s1", 26379), ("s2", 26380)) and found.master == "mymaster"
    assert (found.username, found.password) == ("resque", "data-pw")
    assert (found.sentinel_username, found.sentinel_password) == ("watcher", SECRET)
    assert found.url == "redis+sentinel://s1:26379,s2:26380/mymaster"
    assert SECRET not in repr(found)


def test_sentinel_mistakes() -> None:
    assert "REDIS_SENTINEL_MASTER is not" in error_of(REDIS_SENTINELS="s1")
    assert "REDIS_SENTINELS is not" in error_of(REDIS_SENTINEL_MASTER="m")
    assert "not both" in error_of(REDIS_URL="redis://h", REDIS_SENTINELS="s1",
                                  REDIS_SENTINEL_MASTER="m")  # fmt: skip
    assert "not reached through Sentinel" in error_of(REDIS_SENTINEL_PASSWORD=SECRET)
    assert "not both" in error_of(
        REDIS_SENTINELS="s1", REDIS_SENTINEL_MASTER="m", REDIS_SENTINEL_PASSWORD=SECRET,
        REDIS_SENTINEL_PASSWORD_FILE="/nowhere",
    )  # fmt: skip


# -- TLS ---------------------------------------------------------------------------
def test_tls_files_for_rediss(pem: dict[str, str]) -> None:
    found = settings(REDIS_URL="rediss://h", REDIS_TLS_CA_FILE=pem["ca"],
                     REDIS_TLS_CERT_FILE=pem["cert"], REDIS_TLS_KEY_FILE=pem["key"])  # fmt: skip
    assert found.tls == TlsSettings(pem["ca"], pem["cert"], pem["key"], verify=True)
    assert settings(REDIS_URL="rediss://h", REDIS_TLS_VERIFY="NONE").tls == TlsSettings(
        verify=False
    )
    # a certificate file holding its key needs no key file
    assert settings(REDIS_URL="rediss://h", REDIS_TLS_CERT_FILE=pem["both"]).tls is not None


def test_tls_is_on_for_sentinel_setups_when_any_tls_variable_is_set(pem: dict[str, str]) -> None:
    base = {"REDIS_SENTINELS": "s1", "REDIS_SENTINEL_MASTER": "m"}
    assert settings(**base).tls is None
    assert settings(**base, REDIS_TLS_CA_FILE=pem["ca"]).tls == TlsSettings(ca_file=pem["ca"])
    assert settings(**base, REDIS_TLS_VERIFY="required").tls == TlsSettings()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"REDIS_URL": "redis://h", "REDIS_TLS_CA_FILE": "ca"}, "use rediss:// for TLS"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_VERIFY": "maybe"}, "required or none"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": "missing"}, "cannot read"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_CA_FILE": "junk"}, "not a PEM file"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_KEY_FILE": "key"}, "CERT_FILE is not"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_CERT_FILE": "cert"}, "holds no private key"),
        ({"REDIS_URL": "rediss://h", "REDIS_TLS_CERT_FILE": "cert",
          "REDIS_TLS_KEY_FILE": "ca"}, "REDIS_TLS_KEY_FILE"),
    ],
)  # fmt: skip
def test_tls_mistakes(env: dict[str, str], fragment: str, pem: dict[str, str]) -> None:
    resolved = {k: pem.get(v, v if not k.endswith("_FILE") else v + ".nowhere") for k, v in
                env.items()}  # fmt: skip
    assert fragment in error_of(**resolved)


# -- redaction and imports -----------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("redis://user@h", "redis://user@h"),
        (f"redis://:{SECRET}@h", "redis://:***@h"),
        (f"redis://u:{SECRET}/with@at@h:1/0", "redis://u:***@h:1/0"),
        (f"redis+sentinel://u:{SECRET}@a,b/m", "redis+sentinel://u:***@a,b/m"),
        ("not a url", "not a url"),
    ],
)
def test_redacted(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_reading_the_settings_loads_neither_redis_nor_ssl() -> None:
    code = (
        "import sys\nimport resque_proto.redis_config as c, resque_proto.connection\n"
        "c.RedisSettings.from_env({'REDIS_URL': 'rediss://h'})\n"
        "print('redis' in sys.modules, 'ssl' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.split() == ["False", "False"]
