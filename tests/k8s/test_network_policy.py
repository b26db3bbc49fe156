"""NetworkPolicies: every pod of ours is isolated for ingress, every selector
matches real pod labels, only our Redis clients (and KEDA's operator) reach
Redis, and the HTTP services accept only the ingress side, Prometheus and
labelled producer pods.
"""

from __future__ import annotations

from typing import Any

# Namespaces are matched by the label every namespace gets automatically.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
REDIS_CLIENTS = {"enqueuer", "worker", "frontend"}


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
    redis = manifest.get("StatefulSet", "redis")
    assert in_namespace_sources(manifest, redis, 6379) == REDIS_CLIENTS


def test_redis_admits_other_namespaces_only_for_named_pods(manifest: Any) -> None:
    """Only KEDA's operator, never a whole namespace."""
    redis = manifest.get("StatefulSet", "redis")
    foreign = []
    for policy in policies_for(manifest, redis):
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    assert peer.get("podSelector", {}).get("matchLabels"), policy["metadata"]
                    foreign.append(peer["namespaceSelector"]["matchLabels"][NAMESPACE_NAME_LABEL])
    assert foreign == ["keda"]


def test_no_pod_of_ours_reaches_the_http_services_or_workers(manifest: Any) -> None:
    for name, port in (("enqueuer", 8000), ("frontend", 8080), ("worker", 8000)):
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
