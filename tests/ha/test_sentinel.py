"""Sentinel set-ups without a failover: ACL users on the sentinels and the data nodes,
and everything over TLS (test_failover.py has the failover)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import redis
from ha_support import Parts, needs_tls_redis, run_part, runs, wait_until

from redis_runner.ha import ConfiguredRedis, SentinelServer, make_tls_files
from resque_proto.connection import connect
from resque_proto.permissions import acl_rule, check_permissions
from resque_proto.redis_config import RedisSettings

ADMIN = "admin-Secret-6d"
SECRET = "worker-Secret-2b"
WATCH = "watcher-Secret-90"


def enqueue(client: redis.Redis, token: str) -> None:
    client.sadd("resque:queues", "ha")
    client.rpush("resque:queue:ha", f'{{"class":"Record","args":["{token}"]}}')


def burst(env: dict[str, str], runs_file: Path) -> tuple[int, str]:
    result = run_part("worker", {**env, "QUEUES": "ha", "RESQUE_JOBS": "ha_jobs",
                                 "HA_RUNS_FILE": str(runs_file)}, "--burst")  # fmt: skip
    return result.returncode, result.stderr


def test_acl_users_on_the_sentinels_and_the_data_nodes(tmp_path: Path) -> None:
    acl = [f"user default on >{ADMIN} ~* &* +@all",
           acl_rule("worker", user="resque-worker", password=SECRET)]  # fmt: skip
    watcher = f"user watcher on >{WATCH} -@all +sentinel|masters +ping"
    with (
        ConfiguredRedis(acl=acl) as primary,
        SentinelServer(
            "mymaster", primary.port, quorum=1, auth=(None, ADMIN), extra_lines=[watcher]
        ) as sentinel,  # fmt: skip
    ):
        admin = redis.Redis(port=primary.port, password=ADMIN)
        enqueue(admin, "via-sentinel")
        password = tmp_path / "sentinel-password"
        password.write_text(WATCH + "\n")
        env = {
            "REDIS_URL": f"redis+sentinel://resque-worker:{SECRET}@127.0.0.1:{sentinel.port}"
            "/mymaster/0",
            "REDIS_SENTINEL_USERNAME": "watcher",
            "REDIS_SENTINEL_PASSWORD_FILE": str(password),
        }
        code, stderr = burst(env, tmp_path / "runs")
        assert code == 0, stderr
        assert [t for t, _, _ in runs(tmp_path / "runs")] == ["via-sentinel"]
        assert admin.acl_log() == []

        env.pop("REDIS_SENTINEL_PASSWORD_FILE")
        wrong = run_part("worker", {**env, "REDIS_SENTINEL_PASSWORD": "not-it-7", "QUEUES": "ha"})
        assert wrong.returncode == 2, wrong.stderr
        assert wrong.stderr == (
            f"resque-worker: the sentinels 127.0.0.1:{sentinel.port} refused the credentials "
            "of user watcher\n"
        )
        assert "not-it-7" not in wrong.stderr and SECRET not in wrong.stderr


@needs_tls_redis
def test_sentinel_and_data_nodes_over_tls(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    with (
        ConfiguredRedis(tls=tls) as primary,
        ConfiguredRedis(tls=tls, replica_of=primary) as replica,
        SentinelServer("mymaster", primary.port, quorum=1, tls=tls) as sentinel,
    ):
        admin = redis.Redis(port=primary.port, **primary.tls_kwargs())  # type: ignore[arg-type]
        wait_until(lambda: admin.wait(1, 100) == 1, 15, "the replica over TLS")
        enqueue(admin, "all-tls")
        env = {
            "REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}",
            "REDIS_SENTINEL_MASTER": "mymaster",
            "REDIS_TLS_CA_FILE": str(tls.ca_cert),
        }
        code, stderr = burst(env, tmp_path / "runs")
        assert code == 0, stderr
        assert [t for t, _, _ in runs(tmp_path / "runs")] == ["all-tls"]
        assert replica.tls is not None
        # without the TLS settings the sentinel does not answer: no primary is found
        plain = RedisSettings.from_env({**env, "REDIS_TLS_CA_FILE": ""})
        warning = check_permissions(connect(plain, connect_timeout=2), "worker", "w", plain,
                                    "resque")  # fmt: skip
        assert warning is not None
        assert warning.startswith(f"cannot check Redis permissions now (no primary 'mymaster' "
                                  f"known to the sentinels 127.0.0.1:{sentinel.port})")  # fmt: skip


def test_a_planned_failover_demotes_the_primary_and_the_worker_follows(
    tmp_path: Path, parts: Parts
) -> None:
    """SENTINEL FAILOVER: the old primary stays up as a replica (READONLY to writes);
    the worker, same pid, runs the next job from the new primary."""
    with (
        ConfiguredRedis() as primary,
        ConfiguredRedis(replica_of=primary) as replica,
        SentinelServer("mymaster", primary.port, quorum=1) as sentinel,
    ):
        admin = redis.Redis(port=primary.port)
        wait_until(lambda: admin.wait(1, 100) == 1, 15, "the replica in sync")
        env = {"REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}", "REDIS_SENTINEL_MASTER":
               "mymaster", "QUEUES": "ha", "RESQUE_JOBS": "ha_jobs",
               "HA_RUNS_FILE": str(tmp_path / "runs")}  # fmt: skip
        worker = parts.start("worker", env)
        client = connect(RedisSettings.from_env(env))
        enqueue(client, "before")
        wait_until(lambda: len(runs(tmp_path / "runs")) == 1, 15, "the first job")

        watcher = redis.Redis(port=sentinel.port)
        wait_until(lambda: len(watcher.sentinel_slaves("mymaster")) == 1, 15, "replica known")
        watcher.execute_command("SENTINEL", "FAILOVER", "mymaster")
        # SENTINEL MASTERS (what redis-py asks) names the new primary once the switch is done
        wait_until(lambda: watcher.sentinel_master("mymaster")["port"] == replica.port, 20,
                   "the replica promoted")  # fmt: skip
        # Sentinel demotes the old primary at its next check (up to 10 s); do it now, as
        # it would, but without closing the clients' connections: they get READONLY
        redis.Redis(port=primary.port).replicaof("127.0.0.1", replica.port)
        with contextlib.suppress(redis.ConnectionError):  # READONLY on a pooled socket
            enqueue(client, "after")
        if not client.lrange("resque:queue:ha", 0, -1):
            enqueue(client, "after")
        wait_until(lambda: [t for t, _, _ in runs(tmp_path / "runs")] == ["before", "after"], 15,
                   "the job enqueued on the new primary")  # fmt: skip
        assert worker.alive()
        # It learns of the switch from a READONLY reply (PrimaryDemoted: it reconnects
        # through the sentinels) unless it asks the sentinels first (a new connection
        # after the demotion): either way the same process runs the next job.
        if "read only replica" in worker.log():
            assert "PrimaryDemoted" in worker.log(), worker.log()
        assert worker.stop() == 0, worker.log()  # while Redis is up: it unregisters at once
