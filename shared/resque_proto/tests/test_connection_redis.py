"""connect() against real servers: credentials, a demoted primary, permission probes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redis_runner.ha import ConfiguredRedis, wait_for
from resque_proto.connection import connect
from resque_proto.demotion import PrimaryDemoted
from resque_proto.keys import Keys
from resque_proto.permissions import (
    NEEDS,
    OPTIONAL,
    StartupError,
    acl_rule,
    channel_pattern,
    check_permissions,
    probe,
)
from resque_proto.redis_config import RedisSettings

SECRET = "acl-secret-1"


@pytest.fixture(scope="module")
def acl_redis() -> Iterator[ConfiguredRedis]:
    """Users with each part's documented rule, and a few broken ones."""
    worker = acl_rule("worker", user="worker", password=SECRET)
    lines = [
        "user default on nopass ~* &* +@all",
        *(acl_rule(part, user=part, password=SECRET) for part in NEEDS),
        worker.replace(" +evalsha", "")
        .replace(" +script|load", "")
        .replace("worker", "noscript", 1),
        worker.replace("~resque:*", "~other:*").replace("worker", "otherkeys", 1),
        worker.replace("resetchannels &", "resetchannels &x").replace("worker", "nochannel", 1),
        worker.replace(" +multi", "").replace("worker", "nomulti", 1),
    ]
    with ConfiguredRedis(acl=lines) as server:
        yield server


def user_settings(server: ConfiguredRedis, user: str, password: str = SECRET) -> RedisSettings:
    return RedisSettings.from_env({"REDIS_URL": server.url, "REDIS_USERNAME": user,
                                   "REDIS_PASSWORD": password})  # fmt: skip


def admin(server: ConfiguredRedis) -> redis.Redis:
    return redis.Redis(port=server.port)


def test_every_documented_rule_passes_its_own_check(acl_redis: ConfiguredRedis) -> None:
    for part in NEEDS:
        settings = user_settings(acl_redis, part)
        extra = list(OPTIONAL.get(part, {})) if part == "enqueuer" else []
        assert check_permissions(connect(settings), part, part, settings, "resque", extra) is None
    assert admin(acl_redis).dbsize() == 0  # the probes ran nothing
    assert admin(acl_redis).acl_log() == []


def test_a_missing_command_is_named_with_what_it_is_for(acl_redis: ConfiguredRedis) -> None:
    settings = user_settings(acl_redis, "noscript")
    with pytest.raises(StartupError) as raised:
        check_permissions(connect(settings), "worker", "resque-worker", settings, "resque")
    assert str(raised.value) == (
        "resque-worker: Redis user noscript may not run EVALSHA, SCRIPT|LOAD "
        "(needed for Lua scripts); see docs/redis.md for the ACL rules"
    )


def test_keys_and_channels_out_of_reach(acl_redis: ConfiguredRedis) -> None:
    keys = Keys("resque")
    channel = channel_pattern("worker", keys)
    other = probe(connect(user_settings(acl_redis, "otherkeys")), NEEDS["worker"], "resque",
                  channel)  # fmt: skip
    assert other.keys and not other.commands
    deaf = probe(connect(user_settings(acl_redis, "nochannel")), NEEDS["worker"], "resque",
                 channel)  # fmt: skip
    assert deaf.channels and not deaf.commands and not deaf.keys


def test_without_multi_nothing_else_is_sent(acl_redis: ConfiguredRedis) -> None:
    denied = probe(connect(user_settings(acl_redis, "nomulti")), NEEDS["worker"], "resque")
    assert denied.commands == ("MULTI",)
    assert admin(acl_redis).dbsize() == 0


def test_wrong_password_is_a_startup_error_without_the_password(
    acl_redis: ConfiguredRedis,
) -> None:
    settings = user_settings(acl_redis, "worker", "not-the-password")
    with pytest.raises(StartupError) as raised:
        check_permissions(connect(settings), "worker", "resque-worker", settings, "resque")
    assert "refused the credentials of user worker" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


def test_unreachable_redis_is_only_a_warning() -> None:
    settings = RedisSettings.from_url("redis://127.0.0.1:1/0")
    warning = check_permissions(connect(settings, connect_timeout=1), "worker", "w", settings,
                                "resque")  # fmt: skip
    assert warning is not None and "starting anyway" in warning


def test_password_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("file-secret\n")
    with ConfiguredRedis(password="file-secret") as server:
        client = connect(RedisSettings.from_env({"REDIS_URL": server.url,
                                                 "REDIS_PASSWORD_FILE": str(path)}))  # fmt: skip
        assert client.ping()


def test_a_demoted_primary_is_a_connection_error_and_empties_the_pool() -> None:
    """A primary turned replica answers READONLY: the parts must see "Redis down"."""
    with ConfiguredRedis() as primary, ConfiguredRedis(replica_of=primary) as replica:
        client = connect(replica.url)  # as if a failover had demoted the node we use
        assert wait_for(lambda: client.info("replication")["master_link_status"] == "up", 10)
        idle = [client.connection_pool.get_connection() for _ in range(3)]
        for connection in idle:
            client.connection_pool.release(connection)
        assert client.get("nothing") is None  # reads still work on a replica
        with pytest.raises(PrimaryDemoted) as raised:
            client.set("key", "value")
        assert isinstance(raised.value, redis.ConnectionError)
        assert "read only replica" in str(raised.value)
        assert all(c._sock is None for c in idle)
        # and inside a transaction and a script
        pipe = client.pipeline(transaction=True)
        pipe.set("a", 1)
        pipe.incr("b")
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
        with pytest.raises(redis.ConnectionError):
            client.register_script("return redis.call('SET', KEYS[1], 1)")(keys=["k"])


def test_every_needed_command_has_a_probe_spelled_out() -> None:
    from resque_proto.permissions import PROBE_ARGS

    for part, needs in NEEDS.items():
        assert set(needs) | set(OPTIONAL.get(part, {})) <= set(PROBE_ARGS), part


def test_docs_show_exactly_the_rules_the_code_derives() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "redis.md"
    text = docs.read_text()
    for part in NEEDS:
        assert acl_rule(part, user=f"resque-{part}") in text, part


def test_a_database_the_user_may_not_select_is_a_startup_error(
    acl_redis: ConfiguredRedis,
) -> None:
    url = acl_redis.url.replace("/0", "/3")
    settings = RedisSettings.from_env({"REDIS_URL": url, "REDIS_USERNAME": "worker",
                                       "REDIS_PASSWORD": SECRET})  # fmt: skip
    with pytest.raises(StartupError) as raised:
        check_permissions(connect(settings), "worker", "resque-worker", settings, "resque")
    assert "may not connect as configured (database 3 needs SELECT)" in str(raised.value)
