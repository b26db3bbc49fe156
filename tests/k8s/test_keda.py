"""KEDA scales the workers on the queues they actually serve: each trigger
reads the full Redis key of one of the worker's queues, through the Redis
Service's cluster DNS name, with the same password and database as the pods.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from resque_proto.keys import Keys
from resque_proto.queue_patterns import is_dynamic, parse_queue_list, resolve_queues


def scaled_object(manifest: Any) -> dict[str, Any]:
    objects = manifest.of_kind("ScaledObject")
    assert len(objects) == 1
    return dict(objects[0])


def worker_queues(manifest: Any) -> list[str]:
    env = manifest.plain_env(manifest.container("worker"))
    patterns = parse_queue_list(env.get("QUEUES") or env.get("QUEUE", ""))
    assert patterns, "workers need QUEUES"
    assert not is_dynamic(patterns), "KEDA needs literal queue names, not globs, in QUEUES"
    return resolve_queues(patterns, [])


def test_scaled_object_owns_the_worker_replica_count(manifest: Any) -> None:
    target = scaled_object(manifest)["spec"]["scaleTargetRef"]
    assert (target.get("apiVersion"), target.get("kind")) == ("apps/v1", "Deployment")
    worker = manifest.get("Deployment", target["name"])
    assert worker is not None, f"ScaledObject targets missing Deployment {target['name']}"
    assert "replicas" not in worker["spec"], "kubectl apply would fight the HPA over replicas"


def test_replica_bounds(manifest: Any) -> None:
    spec = scaled_object(manifest)["spec"]
    assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    if manifest.overlay.startswith("production"):
        # Scale to zero trades millisecond pickup for KEDA's polling; not in production.
        assert spec["minReplicaCount"] >= 1


def test_one_trigger_per_worker_queue_on_its_full_key(manifest: Any) -> None:
    namespace = manifest.plain_env(manifest.container("worker"))["RESQUE_NAMESPACE"]
    triggers = scaled_object(manifest)["spec"]["triggers"]
    assert all(t["type"] == "redis" for t in triggers)
    list_names = sorted(t["metadata"]["listName"] for t in triggers)
    assert list_names == sorted(Keys(namespace).queue(q) for q in worker_queues(manifest))
    for trigger in triggers:
        assert int(trigger["metadata"]["listLength"]) >= 1


def test_triggers_use_the_redis_service_address_and_database(manifest: Any) -> None:
    """In-cluster (one Redis, or the Sentinel group, where the `redis`
    Service spans every data node and an LLEN on a replica is as good): the
    Service's cluster DNS name. External: see the next test."""
    if manifest.redis_topology == "external":
        return
    service = next(
        s
        for s in manifest.of_kind("Service")
        if s["metadata"]["name"] == "redis" and s["spec"].get("clusterIP") != "None"
    )
    fqdn = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    expected_address = f"{fqdn}:{service['spec']['ports'][0]['port']}"
    database = manifest.redis_url("worker").database
    for trigger in scaled_object(manifest)["spec"]["triggers"]:
        assert trigger["metadata"]["address"] == expected_address
        assert trigger["metadata"].get("databaseIndex", "0") == database


def test_external_redis_triggers_read_the_pods_endpoint_over_tls(manifest: Any) -> None:
    """components/external-redis: KEDA takes the address, user, password and CA
    from the same Secret keys as the pods (a TriggerAuthentication `address`
    wins over the triggers' in-cluster one), over TLS like the pods' rediss://."""
    if manifest.redis_topology != "external":
        return
    worker = manifest.container("worker")
    env = manifest.plain_env(worker)
    url = manifest.redis_url("worker")
    assert url.scheme == "rediss"
    auth = manifest.get("TriggerAuthentication", "resque-redis")
    refs = {
        r["parameter"]: f"secretKeyRef({r['name']},{r['key']})"
        for r in auth["spec"]["secretTargetRef"]
    }
    assert env["REDIS_URL"] == f"rediss://{refs['address']}/{url.database}"
    assert refs["username"] == env["REDIS_USERNAME"]
    assert refs["password"] == env["REDIS_PASSWORD"]
    # The CA the pods may mount is the one KEDA may use.
    ca_volume = next(v for v in worker.pod_spec["volumes"] if v["name"] == "redis-tls")
    (item,) = ca_volume["secret"]["items"]
    assert refs["ca"] == f"secretKeyRef({ca_volume['secret']['secretName']},{item['key']})"
    (tls,) = auth["spec"]["configMapTargetRef"]
    assert tls["parameter"] == "tls"
    assert manifest.get("ConfigMap", tls["name"])["data"][tls["key"]] == "enable"
    for trigger in scaled_object(manifest)["spec"]["triggers"]:
        assert trigger["metadata"].get("enableTLS", "false") == "false", "tls is set once, in auth"
        assert trigger["metadata"].get("databaseIndex", "0") == url.database


def test_triggers_authenticate_with_the_pods_redis_password(manifest: Any) -> None:
    worker_password = manifest.plain_env(manifest.container("worker"))["REDIS_PASSWORD"]
    for trigger in scaled_object(manifest)["spec"]["triggers"]:
        auth = manifest.get("TriggerAuthentication", trigger["authenticationRef"]["name"])
        assert auth is not None, trigger["authenticationRef"]
        refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
        password = refs["password"]
        assert f"secretKeyRef({password['name']},{password['key']})" == worker_password


def test_the_enqueuer_accepts_every_queue_the_workers_serve(manifest: Any) -> None:
    env = manifest.plain_env(manifest.container("enqueuer"))
    allowed = parse_queue_list(env.get("ENQUEUER_ALLOWED_QUEUES", "*"))
    for queue in worker_queues(manifest):
        assert any(fnmatchcase(queue, pattern) for pattern in allowed), queue
