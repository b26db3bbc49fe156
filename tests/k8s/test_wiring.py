"""The rendered objects fit together: every name, selector, port and secret
reference resolves to something real in the same overlay, and the network
policies let exactly the right pods talk.
"""

from __future__ import annotations

import importlib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from resque_proto.queue_patterns import parse_queue_list
from resque_proto.recurring import parse_entry

# Secrets the production overlays expect the platform team to create (see
# docs/kubernetes.md, "Install" and "Managed Redis"); everything else must be
# in the render.
EXTERNAL_SECRETS = {
    "production": {"resque-secrets"},
    "production-sentinel": {"resque-secrets"},
    "production-external-redis": {"resque-secrets", "resque-redis"},
    "dev+external-redis": {"resque-redis"},
}
# The Sentinel group's master name (components/redis-sentinel).
SENTINEL_MASTER = "resque"
REDIS_CLIENTS = {"enqueuer", "worker", "frontend", "scheduler"}
REPO = Path(__file__).resolve().parents[2]
# The demo schedule of `make run` and Compose; the dev overlay ships a copy.
EXAMPLE_SCHEDULE = REPO / "deploy" / "examples" / "schedule.yaml"
DEV_SCHEDULE = REPO / "deploy" / "k8s" / "overlays" / "dev" / "schedule.yaml"


def redis_service(manifest: Any) -> dict[str, Any]:
    redis_pods = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "resque-py"}
    services = [
        s
        for s in manifest.of_kind("Service")
        if s["spec"].get("clusterIP") != "None" and s["spec"]["selector"] == redis_pods
    ]
    assert len(services) == 1, "expected one ClusterIP Service for Redis"
    return dict(services[0])


def secret_refs(manifest: Any) -> set[tuple[str, str]]:
    """(secret name, key) for every Secret a pod or KEDA reads."""
    refs = set()
    for c in manifest.containers():
        for entry in c.spec.get("env", []):
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
    for workload in manifest.workloads():
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            secret = volume.get("secret")
            if secret:
                refs |= {(secret["secretName"], item["key"]) for item in secret.get("items", [])}
    for auth in manifest.of_kind("TriggerAuthentication"):
        refs |= {(r["name"], r["key"]) for r in auth["spec"].get("secretTargetRef", [])}
    return refs


def test_every_namespaced_object_is_in_the_overlay_namespace(manifest: Any) -> None:
    namespaces = manifest.of_kind("Namespace")
    assert len(namespaces) == 1
    namespace = namespaces[0]["metadata"]["name"]
    labels = namespaces[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in manifest.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, obj["metadata"]["name"]


def test_every_app_reaches_redis_through_its_service(manifest: Any) -> None:
    if manifest.redis_topology != "single":
        return  # the next two tests
    service = redis_service(manifest)
    port = service["spec"]["ports"][0]["port"]
    for name in REDIS_CLIENTS:
        c = manifest.container(name)
        env = manifest.plain_env(c)
        url = urlsplit(env["REDIS_URL"])
        assert url.scheme == "redis", name
        assert url.hostname == service["metadata"]["name"], f"{name}: {url.hostname}"
        assert url.port == port, name
        # The password is the Secret's, substituted by the kubelet (a
        # $(REDIS_PASSWORD) left unexpanded means REDIS_PASSWORD came later).
        assert url.password == "secretKeyRef(resque-secrets,redis-password)", name


def sentinel_container(manifest: Any) -> Any:
    (sentinel,) = [
        c
        for c in manifest.containers()
        if c.workload["metadata"]["name"] == "redis" and c.spec["name"] == "sentinel"
    ]
    return sentinel


def test_every_app_asks_every_sentinel_of_the_group(manifest: Any) -> None:
    """components/redis-sentinel: the apps' REDIS_URL lists each Redis pod's
    Sentinel by its stable DNS name (pod.headless-service) and port, names the
    master the Sentinels monitor, carries the data nodes' password, and the
    Sentinels' own password comes from the same Secret key they use."""
    if manifest.redis_topology != "sentinel":
        return
    redis = manifest.get("StatefulSet", "redis")
    headless = manifest.get("Service", redis["spec"]["serviceName"])
    (sentinel_port,) = [p for p in headless["spec"]["ports"] if p["targetPort"] == "sentinel"]
    sentinel = sentinel_container(manifest)
    (container_port,) = [p for p in sentinel.spec["ports"] if p["name"] == "sentinel"]
    assert container_port["containerPort"] == sentinel_port["port"] == 26379
    sentinel_env = manifest.plain_env(sentinel)
    assert sentinel_env["REDIS_SENTINEL_MASTER"] == SENTINEL_MASTER
    pods = [f"redis-{i}.{headless['metadata']['name']}" for i in range(redis["spec"]["replicas"])]
    for name in REDIS_CLIENTS:
        url = manifest.redis_url(name)
        env = manifest.plain_env(manifest.container(name))
        assert url.scheme == "redis+sentinel", name
        assert url.hosts == [(pod, sentinel_port["port"]) for pod in pods], name
        assert url.master == SENTINEL_MASTER, name
        assert url.database == "0", name
        assert url.password == "secretKeyRef(resque-secrets,redis-password)", name
        assert env["REDIS_SENTINEL_PASSWORD"] == sentinel_env["REDIS_SENTINEL_PASSWORD"], name


def test_sentinel_group_shape(manifest: Any) -> None:
    """Three pods on three nodes (a node's loss keeps the quorum of 2), each
    Sentinel watching the data nodes with their password; the data nodes
    replicate with it (masterauth) and announce stable names."""
    if manifest.redis_topology != "sentinel":
        return
    redis = manifest.get("StatefulSet", "redis")
    assert redis["spec"]["replicas"] == 3
    pod_spec = redis["spec"]["template"]["spec"]
    (term,) = pod_spec["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert manifest.workloads_selected_by(term["labelSelector"]) == [redis]
    sentinel_env = manifest.plain_env(sentinel_container(manifest))
    assert sentinel_env["REDIS_SENTINEL_QUORUM"] == "2"
    assert sentinel_env["REDIS_PASSWORD"] == "secretKeyRef(resque-secrets,redis-password)"
    data_node = next(
        c for c in manifest.containers() if c.workload is redis and c.spec["name"] == "redis"
    )
    command = data_node.spec["command"][2]
    assert "exec resque-redis-node " in command
    assert '--masterauth "$REDIS_PASSWORD"' in command
    # The Sentinels' settings file is mounted where REDIS_SENTINEL_SETTINGS says.
    settings = mounted_file(
        manifest, sentinel_container(manifest), sentinel_env["REDIS_SENTINEL_SETTINGS"]
    )
    assert f"sentinel down-after-milliseconds {SENTINEL_MASTER} " in settings
    # Its state lives on the pod's volume, where the data node looks for it.
    data_mount = next(
        m for m in sentinel_container(manifest).spec["volumeMounts"] if m["name"] == "data"
    )
    assert sentinel_env["REDIS_SENTINEL_CONFIG"].startswith(data_mount["mountPath"] + "/")
    assert (
        manifest.plain_env(data_node)["REDIS_SENTINEL_STATE"]
        == sentinel_env["REDIS_SENTINEL_CONFIG"]
    )


def test_redis_requires_the_same_password(manifest: Any) -> None:
    if manifest.redis_topology == "external":
        return
    redis = manifest.get("StatefulSet", "redis")
    data_node = next(
        c for c in manifest.containers() if c.workload is redis and c.spec["name"] == "redis"
    )
    env = manifest.plain_env(data_node)
    assert env["REDIS_PASSWORD"] == "secretKeyRef(resque-secrets,redis-password)"
    assert '--requirepass "$REDIS_PASSWORD"' in data_node.spec["command"][2]


def test_apps_agree_on_the_resque_namespace(manifest: Any) -> None:
    values = {
        manifest.plain_env(manifest.container(n)).get("RESQUE_NAMESPACE") for n in REDIS_CLIENTS
    }
    assert len(values) == 1 and None not in values, values


def test_referenced_config_maps_exist(manifest: Any) -> None:
    names = {cm["metadata"]["name"] for cm in manifest.of_kind("ConfigMap")}
    for c in manifest.containers():
        for source in c.spec.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in names, c.label
    for workload in manifest.workloads():
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in names, workload["metadata"]["name"]
    for auth in manifest.of_kind("TriggerAuthentication"):
        for ref in auth["spec"].get("configMapTargetRef", []):
            config_map = manifest.get("ConfigMap", ref["name"])
            assert config_map is not None, f"{auth['metadata']['name']}: {ref['name']}"
            assert ref["key"] in config_map["data"], f"{auth['metadata']['name']}: {ref}"


def test_referenced_secrets_exist_or_are_documented_as_external(manifest: Any) -> None:
    external = EXTERNAL_SECRETS.get(manifest.overlay, set())
    secrets = {s["metadata"]["name"]: s for s in manifest.of_kind("Secret")}
    refs = secret_refs(manifest)
    assert refs, "no Secret references found"
    for name, key in refs:
        if name in external:
            continue
        assert name in secrets, (
            f"{manifest.overlay}: Secret {name} is neither rendered nor external"
        )
        data = {**secrets[name].get("data", {}), **secrets[name].get("stringData", {})}
        assert key in data, f"{manifest.overlay}: Secret {name} has no key {key}"


def test_workload_selectors_match_their_templates(manifest: Any) -> None:
    for workload in manifest.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selector = workload["spec"]["selector"]
        assert manifest.workloads_selected_by(selector) == [workload], workload["metadata"]["name"]
        assert all(labels[k] == v for k, v in selector["matchLabels"].items())


def test_services_select_pods_and_target_named_ports(manifest: Any) -> None:
    for service in manifest.of_kind("Service"):
        selected = manifest.workloads_selected_by({"matchLabels": service["spec"]["selector"]})
        name = service["metadata"]["name"]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} workloads"
        ports = {
            p["name"]
            for c in selected[0]["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name}: targetPort {port['targetPort']}"


def test_statefulset_governing_service_is_headless(manifest: Any) -> None:
    for sts in manifest.of_kind("StatefulSet"):
        service = manifest.get("Service", sts["spec"]["serviceName"])
        assert service is not None and service["spec"]["clusterIP"] == "None"


def test_disruption_budgets_cover_every_deployment(manifest: Any) -> None:
    """And, with Sentinel, the Redis pods: one at a time (the single Redis
    has none on purpose: a PDB on one replica would block every drain)."""
    covered = set()
    for pdb in manifest.of_kind("PodDisruptionBudget"):
        selected = manifest.workloads_selected_by(pdb["spec"]["selector"])
        assert len(selected) == 1, pdb["metadata"]["name"]
        assert pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
        assert pdb["spec"].get("maxUnavailable") not in (0, "0%"), "would block every drain"
        covered.add(selected[0]["metadata"]["name"])
        if "minAvailable" in pdb["spec"]:
            # minAvailable at or above the replica count would block every drain.
            replicas = selected[0]["spec"].get("replicas")
            assert replicas is not None, f"{pdb['metadata']['name']}: minAvailable on autoscaling"
            assert pdb["spec"]["minAvailable"] < replicas, pdb["metadata"]["name"]
    deployments = {d["metadata"]["name"] for d in manifest.of_kind("Deployment")}
    assert covered - {"redis"} == deployments
    if manifest.redis_topology == "sentinel":
        (pdb,) = [
            p
            for p in manifest.of_kind("PodDisruptionBudget")
            if manifest.workloads_selected_by(p["spec"]["selector"])
            == [manifest.get("StatefulSet", "redis")]
        ]
        assert pdb["spec"]["maxUnavailable"] == 1
    else:
        assert "redis" not in covered


def test_dashboard_requires_a_login_from_the_secret(manifest: Any) -> None:
    """The dashboard can retry and delete jobs; it must not be open."""
    env = manifest.plain_env(manifest.container("frontend"))
    assert env.get("FRONTEND_AUTH_USER")
    assert env["FRONTEND_AUTH_PASSWORD"].startswith("secretKeyRef(resque-secrets,")


def test_enqueuer_requires_tokens_from_the_secret(manifest: Any) -> None:
    c = manifest.container("enqueuer")
    tokens_file = manifest.plain_env(c)["ENQUEUER_TOKENS_FILE"]
    mount = next(m for m in c.spec["volumeMounts"] if tokens_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in c.pod_spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "resque-secrets"
    paths = {item["path"] for item in volume["secret"]["items"]}
    assert tokens_file.removeprefix(mount["mountPath"] + "/") in paths


def test_every_object_is_labelled_as_ours(manifest: Any) -> None:
    for obj in manifest.objects:
        labels = obj["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/part-of") == "resque-py", obj["metadata"]["name"]


def mounted_file(manifest: Any, container: Any, path: str) -> str:
    """The content of ``path`` in ``container`` when it comes from a ConfigMap volume."""
    mount = max(
        (m for m in container.spec["volumeMounts"] if path.startswith(m["mountPath"] + "/")),
        key=lambda m: len(m["mountPath"]),
    )
    volume = next(v for v in container.pod_spec["volumes"] if v["name"] == mount["name"])
    assert "configMap" in volume, f"{path} is not on a ConfigMap volume"
    config_map = manifest.get("ConfigMap", volume["configMap"]["name"])
    key = path.removeprefix(mount["mountPath"] + "/")
    assert key in config_map["data"], f"ConfigMap {config_map['metadata']['name']} lacks {key}"
    return str(config_map["data"][key])


def schedule_of(manifest: Any) -> dict[str, Any]:
    c = manifest.container("scheduler")
    text = mounted_file(manifest, c, manifest.plain_env(c)["RESQUE_SCHEDULE"])
    schedule = yaml.safe_load(text)
    assert isinstance(schedule, dict), "the schedule file must be a mapping of names"
    return schedule


def test_scheduler_reads_a_valid_schedule_from_its_config_map(manifest: Any) -> None:
    """Every entry parses as the scheduler parses it, on a queue the workers
    serve, with a class the workers' RESQUE_JOBS module defines."""
    worker_env = manifest.plain_env(manifest.container("worker"))
    served = parse_queue_list(worker_env["QUEUES"])
    jobs = importlib.import_module(worker_env["RESQUE_JOBS"])
    known_classes = set(getattr(jobs, "RESQUE_CLASS_NAMES", {})) | set(vars(jobs))
    for name, definition in schedule_of(manifest).items():
        entry = parse_entry(name, definition)
        assert any(fnmatchcase(entry.queue, q) for q in served), f"{name}: {entry.queue}"
        assert entry.class_name in known_classes, f"{name}: {entry.class_name}"


def test_dev_runs_the_demo_schedule_and_production_brings_its_own(manifest: Any) -> None:
    schedule = schedule_of(manifest)
    if manifest.overlay.partition("+")[0] == "dev":
        assert schedule == yaml.safe_load(EXAMPLE_SCHEDULE.read_text())
        assert schedule, "the demo schedule is empty"
    else:
        assert schedule == {}, "the base ships no recurring job; production adds its own"


def test_dev_schedule_is_a_copy_of_the_example() -> None:
    """Kustomize reads files only inside the overlay, hence the copy."""
    assert DEV_SCHEDULE.read_text() == EXAMPLE_SCHEDULE.read_text()


def test_scheduler_lock_timeout_is_set(manifest: Any) -> None:
    env = manifest.plain_env(manifest.container("scheduler"))
    timeout = env["RESQUE_SCHEDULER_LOCK_TIMEOUT"]
    assert timeout.isdigit() and int(timeout) >= 3, timeout
