"""Render every Kustomize overlay of deploy/k8s once per session.

Tests get a ``Manifest`` per overlay (fixture ``manifest``, parametrized over
``deploy/k8s/overlays/*`` and over the Redis components added to the dev
overlay, see ``COMPONENT_VARIANTS``) with small look-up helpers over the
rendered objects.
Rendering needs ``kubectl`` (its built-in kustomize); without it the tests skip
with a message, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
OVERLAY_DIRS = sorted(
    p.name for p in (K8S_DIR / "overlays").iterdir() if (p / "kustomization.yaml").is_file()
)
# "One line in an overlay": each Redis component appended to the `components:`
# of an existing overlay (a copy of deploy/k8s), rendered and checked like the
# overlays themselves, as "<overlay>+<component>".
COMPONENT_VARIANTS = {
    "dev+redis-sentinel": ("dev", "redis-sentinel"),
    "dev+external-redis": ("dev", "external-redis"),
}
OVERLAYS = [*OVERLAY_DIRS, *COMPONENT_VARIANTS]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")

Obj = dict[str, Any]


def kubectl_or_skip() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl (with its built-in kustomize) is not installed: cannot render deploy/k8s"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)
    return kubectl


def kustomize(path: Path) -> list[Obj]:
    """``kubectl kustomize <path>`` as a list of objects."""
    proc = subprocess.run(
        [kubectl_or_skip(), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"kubectl kustomize {path} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class Container:
    """A container (or init container) of a workload's pod template."""

    workload: Obj
    pod_spec: Obj
    spec: Obj

    @property
    def label(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']}:{self.spec['name']}"


@dataclass(frozen=True)
class Manifest:
    """The objects one overlay renders to."""

    overlay: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj | None:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def workloads(self) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in WORKLOAD_KINDS]

    def pod_labels(self) -> list[tuple[Obj, dict[str, str]]]:
        return [
            (w, w["spec"]["template"]["metadata"].get("labels") or {}) for w in self.workloads()
        ]

    def workloads_selected_by(self, selector: Mapping[str, Any]) -> list[Obj]:
        return [w for w, labels in self.pod_labels() if selector_matches(selector, labels)]

    def containers(self) -> Iterator[Container]:
        for workload in self.workloads():
            pod_spec = workload["spec"]["template"]["spec"]
            for spec in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
                yield Container(workload, pod_spec, spec)

    def container(self, workload_name: str) -> Container:
        """The main container of the workload with this name."""
        matches = [
            c
            for c in self.containers()
            if c.workload["metadata"]["name"] == workload_name
            and c.spec in c.pod_spec["containers"]
        ]
        assert len(matches) == 1, f"{self.overlay}: expected one container in {workload_name}"
        return matches[0]

    @property
    def redis_topology(self) -> str:
        """Where the jobs live in this overlay: ``single`` (the base's one Redis
        pod), ``sentinel`` (components/redis-sentinel: Redis pods with a
        Sentinel container each) or ``external`` (components/external-redis:
        no Redis in the cluster)."""
        redis = self.get("StatefulSet", "redis")
        if redis is None:
            return "external"
        names = {c["name"] for c in redis["spec"]["template"]["spec"]["containers"]}
        return "sentinel" if "sentinel" in names else "single"

    def redis_url(self, workload_name: str) -> RedisUrl:
        """The parsed REDIS_URL of a workload's main container (plain_env's view)."""
        return parse_redis_url(self.plain_env(self.container(workload_name))["REDIS_URL"])

    def plain_env(self, container: Container) -> dict[str, str]:
        """The container's environment as the kubelet builds it, for plain values:
        ConfigMaps from ``envFrom`` first, then ``env`` (with ``$(VAR)`` expanded
        from earlier entries, ``configMapKeyRef`` resolved). Secret-sourced
        entries read ``secretKeyRef(name,key)``.
        """
        env: dict[str, str] = {}
        for source in container.spec.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref is not None:
                config_map = self.get("ConfigMap", ref["name"])
                assert config_map is not None, f"{container.label}: no ConfigMap {ref['name']}"
                env.update(
                    {f"{source.get('prefix', '')}{k}": v for k, v in config_map["data"].items()}
                )
        for entry in container.spec.get("env", []):
            if "value" in entry:
                env[entry["name"]] = expand(entry["value"], env)
            elif "secretKeyRef" in (entry.get("valueFrom") or {}):
                ref = entry["valueFrom"]["secretKeyRef"]
                env[entry["name"]] = f"secretKeyRef({ref['name']},{ref['key']})"
            elif "configMapKeyRef" in (entry.get("valueFrom") or {}):
                ref = entry["valueFrom"]["configMapKeyRef"]
                config_map = self.get("ConfigMap", ref["name"])
                assert config_map is not None, f"{container.label}: no ConfigMap {ref['name']}"
                env[entry["name"]] = config_map["data"][ref["key"]]
            else:
                env[entry["name"]] = f"valueFrom({entry['name']})"
        return env


@dataclass(frozen=True)
class RedisUrl:
    """A REDIS_URL of the connection contract: ``redis://``, ``rediss://`` or
    ``redis+sentinel://[user:pass@]host1:port,host2:port/<master>[/<db>]``."""

    scheme: str
    hosts: list[tuple[str, int]]
    username: str | None
    password: str | None
    database: str
    master: str | None


def parse_redis_url(url: str) -> RedisUrl:
    scheme, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    credentials, at, hostlist = authority.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username, password = (user or None), (secret if colon else None)
    default_port = 26379 if scheme == "redis+sentinel" else 6379
    hosts = []
    for entry in hostlist.split(","):
        host, colon, port = entry.rpartition(":")
        hosts.append((host, int(port)) if colon else (entry, default_port))
    segments = [s for s in path.split("/") if s]
    master = segments.pop(0) if scheme == "redis+sentinel" and segments else None
    return RedisUrl(scheme, hosts, username, password, segments[0] if segments else "0", master)


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: only variables defined earlier expand."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def kustomize_with_component(workdir: Path, overlay: str, component: str) -> list[Obj]:
    """Render ``overlay`` with ``component`` added last to its components."""
    tree = workdir / f"{overlay}+{component}"
    shutil.copytree(K8S_DIR, tree)
    kustomization = tree / "overlays" / overlay / "kustomization.yaml"
    config = yaml.safe_load(kustomization.read_text())
    config["components"] = [*config.get("components", []), f"../../components/{component}"]
    kustomization.write_text(yaml.safe_dump(config, sort_keys=False))
    return kustomize(kustomization.parent)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Manifest]:
    manifests = {
        name: Manifest(name, kustomize(K8S_DIR / "overlays" / name)) for name in OVERLAY_DIRS
    }
    workdir = tmp_path_factory.mktemp("k8s-variants")
    for name, (overlay, component) in COMPONENT_VARIANTS.items():
        manifests[name] = Manifest(name, kustomize_with_component(workdir, overlay, component))
    return manifests


@pytest.fixture
def kubectl() -> str:
    return kubectl_or_skip()


@pytest.fixture
def render() -> Callable[[Path], Manifest]:
    """Render another Kustomize directory (e.g. a modified copy of an overlay)."""
    return lambda path: Manifest(path.name, kustomize(path))


@pytest.fixture(params=OVERLAYS)
def manifest(request: pytest.FixtureRequest, rendered: dict[str, Manifest]) -> Manifest:
    return rendered[request.param]
