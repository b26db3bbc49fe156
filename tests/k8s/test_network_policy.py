"""NetworkPolicies: every pod of ours is isolated for ingress, every selector
matches real pod labels, only our Redis clients (and KEDA's operator) reach
Redis (with Sentinel: its Sentinels too, and the Redis pods each other), the
HTTP services accept only the ingress side, Prometheus and labelled producer
pods, and the scheduler talks to Redis (for an external Redis: its TCP ports)
and DNS only.
"""

from __future__ import annotations

from typing import Any

# Namespaces are matched by the label every namespace gets automatically.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
REDIS_CLIENTS = {"enqueuer", "worker", "frontend", "scheduler"}
DNS_PORT = 53
SENTINEL_PORT = 26379


def ingress_policies(manifest: Any) -> list[dict[str, Any]]:
    return [
        p
        for p in manifest.of_kind("NetworkPolicy")
        if "Ingress" in p["spec"].get("policyTypes", [])
    ]


def policies_for(manifest: Any, workload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in ingress_policies(manifest)
        if workload in manifest.workloads_selected_by(p["spec"]["podSelector"])
    ]


def port_allowed(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port for p in ports)


def in_namespace_sources(manifest: Any, target: dict[str, Any], port: int) -> set[str]:
    """Names of our workloads (same namespace) allowed to reach ``target``:``port``."""
    allowed = set()
    for policy in policies_for(manifest, target):
        for rule in policy["spec"].get("ingress", []):
            if not port_allowed(rule, port):
                continue
            for peer in rule.get("from", []):
                namespace_selector = peer.get("namespaceSelector")
                if namespace_selector is not None and namespace_selector != {}:
                    continue  # another namespace, by name
                selector = peer.get("podSelector", {})
                allowed |= {w["metadata"]["name"] for w in manifest.workloads_selected_by(selector)}
    return allowed


def test_every_pod_is_isolated_for_ingress(manifest: Any) -> None:
    for workload in manifest.workloads():
        assert policies_for(manifest, workload), workload["metadata"]["name"]


def test_every_policy_selects_real_pods(manifest: Any) -> None:
    for policy in manifest.of_kind("NetworkPolicy"):
        assert manifest.workloads_selected_by(policy["spec"]["podSelector"]), policy["metadata"]


def test_no_rule_admits_everyone(manifest: Any) -> None:
    for policy in ingress_policies(manifest):
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{name}: a rule without 'from' admits every source"
            for peer in rule["from"]:
                assert peer not in ({}, {"namespaceSelector": {}}), f"{name}: peer admits all"
                assert "ipBlock" not in peer, f"{name}: ipBlock"


def test_peer_selectors_match_real_labels(manifest: Any) -> None:
    """A same-namespace podSelector must select one of our pods; another
    namespace is named by its automatic name label, and a whole-cluster
    namespaceSelector ({}) must be narrowed by an opt-in pod label."""
    for policy in ingress_policies(manifest):
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                namespace_selector = peer.get("namespaceSelector")
                pod_selector = peer.get("podSelector")
                if namespace_selector is None:
                    assert manifest.workloads_selected_by(pod_selector), f"{name}: {pod_selector}"
                elif namespace_selector == {}:
                    assert pod_selector and pod_selector.get("matchLabels"), name
                else:
                    assert set(namespace_selector["matchLabels"]) == {NAMESPACE_NAME_LABEL}, name


def test_policy_ports_are_ports_the_pods_listen_on(manifest: Any) -> None:
    for policy in ingress_policies(manifest):
        listening = {
            p["containerPort"]
            for w in manifest.workloads_selected_by(policy["spec"]["podSelector"])
            for c in w["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                assert port["port"] in listening, f"{policy['metadata']['name']}: {port}"


def test_only_our_redis_clients_reach_redis(manifest: Any) -> None:
    """And with Sentinel, the Redis pods themselves (replication, Sentinels
    watching the nodes and each other); the clients ask the Sentinels too."""
    redis = manifest.get("StatefulSet", "redis")
    topology = manifest.redis_topology
    if topology == "external":
        assert redis is None
        return
    if topology == "single":
        assert in_namespace_sources(manifest, redis, 6379) == REDIS_CLIENTS
        assert in_namespace_sources(manifest, redis, SENTINEL_PORT) == set()
        return
    for port in (6379, SENTINEL_PORT):
        assert in_namespace_sources(manifest, redis, port) == REDIS_CLIENTS | {"redis"}, port


def test_redis_admits_other_namespaces_only_for_named_pods(manifest: Any) -> None:
    """Only KEDA's operator, never a whole namespace."""
    redis = manifest.get("StatefulSet", "redis")
    if redis is None:
        return  # external Redis: nothing of ours to admit anyone to
    foreign = []
    for policy in policies_for(manifest, redis):
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    assert peer.get("podSelector", {}).get("matchLabels"), policy["metadata"]
                    foreign.append(peer["namespaceSelector"]["matchLabels"][NAMESPACE_NAME_LABEL])
    assert foreign == ["keda"]


def test_no_pod_of_ours_reaches_the_http_services_or_workers(manifest: Any) -> None:
    for name, port in (
        ("enqueuer", 8000),
        ("frontend", 8080),
        ("worker", 8000),
        ("scheduler", 8000),
    ):
        workload = manifest.get("Deployment", name)
        assert in_namespace_sources(manifest, workload, port) == set(), name


def test_http_services_admit_the_ingress_and_monitoring_namespaces(manifest: Any) -> None:
    for name, port in (("enqueuer", 8000), ("frontend", 8080)):
        namespaces = {
            peer["namespaceSelector"]["matchLabels"][NAMESPACE_NAME_LABEL]
            for policy in policies_for(manifest, manifest.get("Deployment", name))
            for rule in policy["spec"].get("ingress", [])
            if port_allowed(rule, port)
            for peer in rule["from"]
            if peer.get("namespaceSelector")
        }
        # The ingress controller's namespace (ingress-nginx in the base; an
        # overlay may name another) besides Prometheus'.
        assert namespaces - {"monitoring"}, f"nothing on the ingress side reaches {name}"
        assert "monitoring" in namespaces, f"Prometheus must be able to scrape {name}"


# ------------------------------------------------------------------ egress


def egress_policies_for(manifest: Any, workload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in manifest.of_kind("NetworkPolicy")
        if "Egress" in p["spec"].get("policyTypes", [])
        and workload in manifest.workloads_selected_by(p["spec"]["podSelector"])
    ]


def test_scheduler_admits_no_ingress(manifest: Any) -> None:
    """It serves no port: isolated for ingress, and no rule lets anything in."""
    scheduler = manifest.get("Deployment", "scheduler")
    policies = policies_for(manifest, scheduler)
    assert policies, "the scheduler is not isolated for ingress"
    assert [r for p in policies for r in p["spec"].get("ingress", [])] == []


def test_scheduler_egress_reaches_only_redis_and_the_cluster_dns(manifest: Any) -> None:
    """Redis is our Redis pods on 6379 (and their Sentinels on 26379), or, for
    an external Redis, any address (Kubernetes cannot name it) but only on
    TCP ports that Redis endpoints use."""
    scheduler = manifest.get("Deployment", "scheduler")
    redis = manifest.get("StatefulSet", "redis")
    redis_ports = {
        "single": {("TCP", 6379)},
        "sentinel": {("TCP", 6379), ("TCP", SENTINEL_PORT)},
    }.get(manifest.redis_topology)
    policies = egress_policies_for(manifest, scheduler)
    assert policies, "the scheduler's egress is not restricted"
    reaches_redis = reaches_dns = False
    for policy in policies:
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), f"{name}: an egress rule without 'to' allows everything"
            assert rule.get("ports"), f"{name}: an egress rule without ports allows every port"
            ports = {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}
            for peer in rule["to"]:
                namespace_selector = peer.get("namespaceSelector")
                if "ipBlock" in peer:
                    assert manifest.redis_topology == "external", f"{name}: ipBlock"
                    assert {protocol for protocol, _ in ports} == {"TCP"}, name
                    assert DNS_PORT not in {port for _, port in ports}, name
                    reaches_redis = True
                elif namespace_selector is None:
                    assert manifest.workloads_selected_by(peer["podSelector"]) == [redis], name
                    assert ports == redis_ports, name
                    reaches_redis = True
                else:
                    # The cluster DNS, named by namespace and pod label.
                    assert namespace_selector["matchLabels"] == {
                        NAMESPACE_NAME_LABEL: "kube-system"
                    }, name
                    assert peer.get("podSelector", {}).get("matchLabels"), name
                    assert ports == {("UDP", DNS_PORT), ("TCP", DNS_PORT)}, name
                    reaches_dns = True
    assert reaches_redis, "the scheduler cannot reach Redis"
    assert reaches_dns, "the scheduler cannot resolve the Redis Service's name"


def test_egress_to_our_pods_is_admitted_by_their_ingress_policies(manifest: Any) -> None:
    """An egress rule toward one of our pods is useless unless that pod's
    ingress policies let the source in on the same port."""
    for source in manifest.workloads():
        for policy in egress_policies_for(manifest, source):
            for rule in policy["spec"].get("egress", []):
                for peer in rule["to"]:
                    if "namespaceSelector" in peer or "ipBlock" in peer:
                        continue  # not our pods
                    for target in manifest.workloads_selected_by(peer["podSelector"]):
                        for port in rule["ports"]:
                            allowed = in_namespace_sources(manifest, target, port["port"])
                            assert source["metadata"]["name"] in allowed, (
                                f"{source['metadata']['name']} -> "
                                f"{target['metadata']['name']}:{port['port']}"
                            )
