"""The Redis pods of components/redis-sentinel, run as Docker containers the
way Kubernetes would run them: the rendered StatefulSet's commands, environment
(Secret values, the Downward API memory limit), ConfigMap files and probes,
each pod a network namespace with its stable DNS name
(``redis-N.redis-headless.<namespace>.svc.cluster.local``, what ``hostname -f``
gives in a StatefulSet pod) shared by its `redis` and `sentinel` containers,
and a volume per pod.

A new group forms with redis-0 as the primary; an app connects with the
rendered Sentinel URL and passwords; losing pod redis-0 promotes another pod;
redis-0 recreated on its volume rejoins as a replica; the rendered preStop hook
of the primary hands the role over before a planned stop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import docker
import pytest
import redis
import yaml
from docker.models.containers import Container
from e2e_support.images import REPO, image
from e2e_support.polling import wait_for

OVERLAY = REPO / "deploy" / "k8s" / "overlays" / "production-sentinel"
PASSWORD = "k8s-e2e-" + uuid.uuid4().hex
MASTER = "resque"
MEBIBYTE = 2**20
# down-after-milliseconds is 10 s in the component, plus the election.
FAILOVER = 45.0


def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    proc = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def memory_mebibytes(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity) // MEBIBYTE


def container_env(spec: dict[str, Any]) -> dict[str, str]:
    """The kubelet's view: plain values, Secret values (all one password here),
    the memory limit through the Downward API."""
    env: dict[str, str] = {}
    for entry in spec.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "secretKeyRef" in source:
            assert source["secretKeyRef"] == {"name": "resque-secrets", "key": "redis-password"}
            env[entry["name"]] = PASSWORD
        elif "resourceFieldRef" in source:
            assert source["resourceFieldRef"]["resource"] == "limits.memory"
            env[entry["name"]] = str(memory_mebibytes(spec["resources"]["limits"]["memory"]))
        else:
            raise AssertionError(f"unexpected env source {entry}")
    return env


@dataclass
class Pods:
    """Three Redis pods of the rendered StatefulSet on one Docker network."""

    client: docker.DockerClient
    statefulset: dict[str, Any]
    config_maps: dict[str, dict[str, str]]
    workdir: Path
    namespace: str
    prefix: str = f"ktest-{os.getpid()}"

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    @property
    def domain(self) -> str:
        service = self.statefulset["spec"]["serviceName"]
        return f"{service}.{self.namespace}.svc.cluster.local"

    def fqdn(self, ordinal: int) -> str:
        return f"redis-{ordinal}.{self.domain}"

    def pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.statefulset["spec"]["template"]["spec"]
        return spec

    def container_spec(self, name: str) -> dict[str, Any]:
        (spec,) = [c for c in self.pod_spec()["containers"] if c["name"] == name]
        return dict(spec)

    def mounts(self, ordinal: int, spec: dict[str, Any]) -> dict[str, dict[str, str]]:
        volumes = {v["name"]: v for v in self.pod_spec()["volumes"]}
        binds = {}
        for mount in spec["volumeMounts"]:
            if mount["name"] == "data":
                binds[f"{self.prefix}-data-redis-{ordinal}"] = {
                    "bind": mount["mountPath"],
                    "mode": "rw",
                }
                continue
            config_map = volumes[mount["name"]]["configMap"]["name"]
            local = self.workdir / config_map
            if not local.exists():
                local.mkdir()
                for key, content in self.config_maps[config_map].items():
                    (local / key).write_text(content)
                local.chmod(0o755)
            binds[str(local)] = {"bind": mount["mountPath"], "mode": "ro"}
        return binds

    def start(self, ordinal: int) -> None:
        """Create pod redis-<ordinal>: its network namespace, then both containers."""
        fqdn = self.fqdn(ordinal)
        service = self.statefulset["spec"]["serviceName"]
        infra = self.client.containers.run(
            image("redis"),
            entrypoint=["sleep", "infinity"],
            name=f"{self.prefix}-redis-{ordinal}",
            hostname=f"redis-{ordinal}",
            domainname=self.domain,
            network=self.network,
            ports={"6379/tcp": ("127.0.0.1", None), "26379/tcp": ("127.0.0.1", None)},
            detach=True,
        )
        # The pod's DNS records: full name, and the short one the apps' URL uses.
        self.client.networks.get(self.network).disconnect(infra)
        self.client.networks.get(self.network).connect(
            infra, aliases=[fqdn, f"redis-{ordinal}.{service}"]
        )
        for name in ("redis", "sentinel"):
            spec = self.container_spec(name)
            self.client.containers.run(
                spec["image"],
                command=spec["command"],
                entrypoint=[],
                name=f"{self.prefix}-redis-{ordinal}-{name}",
                network_mode=f"container:{infra.id}",
                environment=container_env(spec),
                volumes=self.mounts(ordinal, spec),
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                user="10001:10001",
                detach=True,
            )
        wait_for(
            lambda: self.data(ordinal).ping() and self.sentinel(ordinal).ping(),
            timeout=60,
            what=f"pod redis-{ordinal} to be ready",
            ignore=(redis.RedisError, KeyError, TypeError),
        )

    def delete(self, ordinal: int) -> None:
        for suffix in ("-sentinel", "-redis", ""):
            with contextlib.suppress(docker.errors.NotFound):
                name = f"{self.prefix}-redis-{ordinal}{suffix}"
                self.client.containers.get(name).remove(force=True)

    def container(self, ordinal: int, name: str) -> Container:
        return self.client.containers.get(f"{self.prefix}-redis-{ordinal}-{name}")

    def port(self, ordinal: int, port: int) -> int:
        infra = self.client.containers.get(f"{self.prefix}-redis-{ordinal}")
        infra.reload()
        return int(infra.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])

    def data(self, ordinal: int) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port(ordinal, 6379), password=PASSWORD, socket_timeout=3
        )

    def sentinel(self, ordinal: int) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port(ordinal, 26379), password=PASSWORD, socket_timeout=3
        )

    def answers(self) -> list[str]:
        """What each Sentinel names as the primary (for failure messages)."""
        named = []
        for ordinal in range(3):
            try:
                sentinel: Any = self.sentinel(ordinal)
                named.append(text(sentinel.sentinel_get_master_addr_by_name(MASTER)[0]))
            except (redis.RedisError, KeyError, TypeError) as error:
                named.append(repr(error))
        return named

    def primary(self, asking: tuple[int, ...] = (0, 1, 2)) -> str | None:
        """The primary (FQDN) that every Sentinel asked names, or None."""
        named = set()
        for ordinal in asking:
            try:
                sentinel: Any = self.sentinel(ordinal)
                host, _ = sentinel.sentinel_get_master_addr_by_name(MASTER)
            except (redis.RedisError, KeyError, TypeError):
                return None
            named.add(text(host))
        return named.pop() if len(named) == 1 else None

    def role(self, ordinal: int) -> tuple[str, str | None]:
        client: Any = self.data(ordinal)
        reply: Any = client.execute_command("ROLE")
        kind = reply[0].decode()
        return kind, (reply[1].decode() if kind == "slave" else None)


@pytest.fixture(scope="module")
def pods(images: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    objects = rendered()
    (statefulset,) = [o for o in objects if o["kind"] == "StatefulSet"]
    config_maps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    group = Pods(
        images,
        statefulset,
        config_maps,
        tmp_path_factory.mktemp("k8s-pods"),
        statefulset["metadata"]["namespace"],
    )
    images.networks.create(group.network)
    try:
        for ordinal in range(statefulset["spec"]["replicas"]):
            group.start(ordinal)  # OrderedReady: one after the other
        yield group
    finally:
        for ordinal in range(statefulset["spec"]["replicas"]):
            group.delete(ordinal)
        for volume in images.volumes.list(filters={"name": group.prefix}):
            volume.remove(force=True)
        images.networks.get(group.network).remove()


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def replicates(pods: Pods, ordinal: int, primary: str) -> bool:
    return pods.role(ordinal) == ("slave", primary)


def sentinel_knows_the_group(pods: Pods, ordinal: int) -> bool:
    sentinel: Any = pods.sentinel(ordinal)
    master = sentinel.sentinel_master(MASTER)
    return int(master["num-other-sentinels"]) == 2 and int(master["num-slaves"]) == 2


def test_k8s_ha_pods_form_a_group_an_app_reaches_through_the_sentinels(
    pods: Pods, images: docker.DockerClient
) -> None:
    assert pods.statefulset["spec"]["replicas"] == 3
    wait_for(lambda: pods.primary() == pods.fqdn(0), timeout=30, what="redis-0 to be the primary")
    for ordinal in (1, 2):
        wait_for(
            partial(replicates, pods, ordinal, pods.fqdn(0)),
            timeout=30,
            what=f"redis-{ordinal} to replicate redis-0",
            ignore=(redis.RedisError,),
        )
    for ordinal in range(3):
        wait_for(
            partial(sentinel_knows_the_group, pods, ordinal),
            timeout=60,
            what=f"the Sentinel of redis-{ordinal} to know the others and both replicas",
            ignore=(redis.RedisError,),
        )
        config = pods.data(ordinal).config_get("notify-keyspace-events")
        assert set("Klz") <= set(text(next(iter(config.values())))), ordinal
    # An app with the rendered REDIS_URL and REDIS_SENTINEL_PASSWORD, on the
    # pods' network, writes through the Sentinel-found primary.
    (worker,) = [
        o for o in rendered() if o["kind"] == "Deployment" and o["metadata"]["name"] == "worker"
    ]
    (app,) = worker["spec"]["template"]["spec"]["containers"]
    env = container_env({**app, "env": [e for e in app["env"] if e["name"].startswith("REDIS_")]})
    env["REDIS_URL"] = env["REDIS_URL"].replace("$(REDIS_PASSWORD)", PASSWORD)
    script = (
        "from resque_proto import connect; c = connect(); "
        "c.rpush('resque:queue:k8s_ha', 'job'); print(c.llen('resque:queue:k8s_ha'))"
    )
    output = images.containers.run(
        image("worker"),
        entrypoint=["python3", "-c", script],
        network=pods.network,
        environment=env,
        remove=True,
    )
    assert output.strip() == b"1"
    wait_for(
        lambda: pods.data(1).llen("resque:queue:k8s_ha") == 1,
        timeout=10,
        what="the job replicated",
    )


def test_k8s_ha_losing_the_primary_pod_promotes_another_and_it_rejoins_as_replica(
    pods: Pods,
) -> None:
    wait_for(lambda: pods.primary() == pods.fqdn(0), timeout=30, what="redis-0 to lead")
    pods.delete(0)  # the node is gone, with both containers
    promoted = wait_for(
        lambda: (p := pods.primary(asking=(1, 2))) not in (None, pods.fqdn(0)) and p,
        timeout=FAILOVER,
        what="the two remaining Sentinels to promote a replica",
    )
    survivor = 1 if promoted == pods.fqdn(1) else 2
    assert promoted == pods.fqdn(survivor)
    wait_for(lambda: pods.role(survivor)[0] == "master", timeout=15, what="the new primary")
    assert pods.data(survivor).llen("resque:queue:k8s_ha") == 1, "the data survived"
    # The pod is recreated on its volume: it asks the Sentinels and follows.
    pods.start(0)
    wait_for(
        lambda: pods.role(0) == ("slave", promoted),
        timeout=60,
        what="redis-0 to come back as a replica of the new primary",
        ignore=(redis.RedisError,),
    )
    wait_for(lambda: pods.primary() == promoted, timeout=30, what="all three Sentinels to agree")


def sees_the_primary_up(pods: Pods, ordinal: int) -> bool:
    """This Sentinel's view of the primary is what the preStop hook asks of one it turns
    to: flags "master" alone (not "master,disconnected" while its link reconnects)."""
    try:
        master: Any = pods.sentinel(ordinal).sentinel_master(MASTER)
    except (redis.RedisError, KeyError, TypeError):
        return False
    return str(master.get("flags")) == "master"


def test_k8s_ha_prestop_hands_the_primary_role_over(pods: Pods) -> None:
    primary = wait_for(pods.primary, timeout=30, what="the Sentinels to agree")
    ordinal = int(str(primary).split(".")[0].removeprefix("redis-"))
    others = [n for n in range(3) if n != ordinal]
    wait_for(lambda: all(sees_the_primary_up(pods, n) for n in others), timeout=30,
             what="the other pods' Sentinels to see the primary up")  # fmt: skip
    pre_stop = pods.container_spec("redis")["lifecycle"]["preStop"]["exec"]["command"]
    result = pods.container(ordinal, "redis").exec_run(pre_stop, demux=True)
    assert result.exit_code == 0, result.output
    assert b"handed over" in (result.output[1] or b""), result.output
    assert pods.role(ordinal)[0] == "slave"
    try:
        wait_for(
            lambda: pods.primary() not in (None, primary),
            timeout=15,
            what="the Sentinels to name the new primary",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}; they name {pods.answers()}") from None
