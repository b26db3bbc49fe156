"""Policy every pod and container of every overlay must meet: probes,
requests and limits, a hardened security context, pinned images, workers
that drain their job before Kubernetes kills them, and a scheduler whose
standby replica survives rollouts, drains and the loss of a node.
"""

from __future__ import annotations

import re
from typing import Any

APP_IMAGES = {
    "enqueuer": "resque-py/enqueuer",
    "worker": "resque-py/worker",
    "frontend": "resque-py/frontend",
    "scheduler": "resque-py/scheduler",
}
# The age at which `resque-scheduler --health-check` fails.
SCHEDULER_HEALTH_MAX_AGE = 15.0
HTTP_SERVICES = ("enqueuer", "frontend")
NON_ROOT_UID = 10001
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(text: str | int | float) -> float:
    match = QUANTITY.match(str(text))
    assert match, f"not a Kubernetes quantity: {text!r}"
    return float(match.group(1)) * SCALE[match.group(2)]


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when none; "@digest" pins too)."""
    if "@" in image:
        return image.partition("@")[2]
    return image.rsplit("/", 1)[-1].partition(":")[2]


def effective_security(container: Any) -> dict[str, Any]:
    """Container securityContext over the pod's (container fields win)."""
    pod = container.pod_spec.get("securityContext") or {}
    own = container.spec.get("securityContext") or {}
    inherited = {k: pod[k] for k in ("runAsNonRoot", "runAsUser", "seccompProfile") if k in pod}
    return {**inherited, **own}


def test_every_container_has_liveness_and_readiness_probes(manifest: Any) -> None:
    missing = [
        f"{c.label}: {probe}"
        for c in manifest.containers()
        for probe in ("livenessProbe", "readinessProbe")
        if probe not in c.spec
    ]
    assert not missing


def test_every_container_has_cpu_and_memory_requests_and_limits(manifest: Any) -> None:
    for c in manifest.containers():
        resources = c.spec.get("resources") or {}
        for resource in ("cpu", "memory"):
            request = (resources.get("requests") or {}).get(resource)
            limit = (resources.get("limits") or {}).get(resource)
            assert request is not None and limit is not None, f"{c.label}: {resource}"
            assert quantity(request) <= quantity(limit), f"{c.label}: {resource} request > limit"


def test_every_container_runs_hardened(manifest: Any) -> None:
    for c in manifest.containers():
        security = effective_security(c)
        assert security.get("runAsNonRoot") is True, c.label
        assert security.get("runAsUser") == NON_ROOT_UID, c.label
        assert security.get("allowPrivilegeEscalation") is False, c.label
        assert security.get("readOnlyRootFilesystem") is True, c.label
        assert security.get("privileged", False) is False, c.label
        capabilities = security.get("capabilities") or {}
        assert capabilities.get("drop") == ["ALL"], c.label
        assert not capabilities.get("add"), c.label
        assert (security.get("seccompProfile") or {}).get("type") == "RuntimeDefault", c.label


def test_pods_get_no_api_token_and_no_service_link_variables(manifest: Any) -> None:
    """No pod talks to the Kubernetes API; and service links would inject
    variables such as ENQUEUER_PORT=tcp://... into our ENQUEUER_* namespace."""
    for workload in manifest.workloads():
        pod_spec = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert pod_spec.get("automountServiceAccountToken") is False, name
        assert pod_spec.get("enableServiceLinks") is False, name
        assert not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID"), name
        account = manifest.get("ServiceAccount", pod_spec.get("serviceAccountName", "default"))
        assert account is not None, f"{name}: its ServiceAccount is not in the render"
        assert account.get("automountServiceAccountToken") is False, name


def test_images_are_ours_and_pinned(manifest: Any) -> None:
    for c in manifest.containers():
        image = c.spec["image"]
        tag = image_tag(image)
        assert tag, f"{c.label}: image {image!r} has no tag"
        assert tag != "latest", f"{c.label}: image {image!r} uses latest"
        assert c.spec.get("imagePullPolicy") in ("IfNotPresent", None), c.label
    for workload_name, image in APP_IMAGES.items():
        assert manifest.container(workload_name).spec["image"].startswith(f"{image}:")


def test_http_services_probe_healthz_and_readyz_on_their_port(manifest: Any) -> None:
    for name in HTTP_SERVICES:
        c = manifest.container(name)
        ports = {p["name"]: p["containerPort"] for p in c.spec["ports"]}
        env = manifest.plain_env(c)
        assert str(ports["http"]) == env["PORT"], f"{name}: PORT and containerPort differ"
        expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        for probe, path in expected.items():
            http_get = c.spec[probe]["httpGet"]
            assert http_get["path"] == path, f"{name}: {probe}"
            assert http_get["port"] in ("http", ports["http"]), f"{name}: {probe} port"


def test_http_services_limit_gunicorn_workers_explicitly(manifest: Any) -> None:
    """Gunicorn's CPU-based default would count the node's cores, not the limit."""
    for name in HTTP_SERVICES:
        value = manifest.plain_env(manifest.container(name)).get("WEB_CONCURRENCY", "")
        assert value.isdigit() and int(value) >= 1, name


def health_file_probes(manifest: Any, name: str) -> Any:
    """The checks shared by the worker and the scheduler: every probe runs
    ``resque-<name> --health-check`` on a health file in a writable emptyDir
    of its own at /tmp/health. Returns the container."""
    c = manifest.container(name)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c.spec[probe]["exec"]["command"] == [f"resque-{name}", "--health-check"], probe
    health_file = manifest.plain_env(c)["RESQUE_HEALTH_FILE"]
    assert health_file == f"/tmp/health/{name}"
    empty_dirs = {v["name"] for v in c.pod_spec["volumes"] if "emptyDir" in v}
    mount = max(
        (
            m
            for m in c.spec["volumeMounts"]
            if health_file.startswith(m["mountPath"].rstrip("/") + "/")
        ),
        key=lambda m: len(m["mountPath"]),
    )
    assert mount["mountPath"] == "/tmp/health" and mount["name"] in empty_dirs
    assert not mount.get("readOnly")
    return c


def test_worker_probes_its_heartbeat_file_on_an_empty_dir(manifest: Any) -> None:
    c = health_file_probes(manifest, "worker")
    # The liveness window must outlast a few missed heartbeats (the check
    # itself allows 3 x RESQUE_HEARTBEAT_INTERVAL).
    interval = float(manifest.plain_env(c)["RESQUE_HEARTBEAT_INTERVAL"])
    liveness = c.spec["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 3 * interval


def test_scheduler_probes_its_health_file_on_an_empty_dir(manifest: Any) -> None:
    c = health_file_probes(manifest, "scheduler")
    liveness = c.spec["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= SCHEDULER_HEALTH_MAX_AGE


def test_worker_grace_period_outlasts_the_job_timeout(manifest: Any) -> None:
    c = manifest.container("worker")
    timeout = float(manifest.plain_env(c)["RESQUE_JOB_TIMEOUT"])
    assert timeout > 0, "set RESQUE_JOB_TIMEOUT: a job without one can outlive any grace period"
    grace = c.pod_spec["terminationGracePeriodSeconds"]
    # Headroom for recording the result and unregistering after the timeout.
    assert grace >= timeout + 30, f"{manifest.overlay}: grace {grace}s vs job timeout {timeout}s"


def test_worker_stop_is_not_overridden(manifest: Any) -> None:
    """The image's STOPSIGNAL SIGQUIT drains the worker; a preStop hook or a
    command override (dropping tini) would change what the stop does."""
    c = manifest.container("worker")
    assert "lifecycle" not in c.spec
    assert "command" not in c.spec


def test_rolling_updates_never_drop_below_desired(manifest: Any) -> None:
    for workload in manifest.of_kind("Deployment"):
        if workload["metadata"]["name"] == "scheduler":
            continue  # one leader, one standby: see the next test
        rolling = workload["spec"]["strategy"]["rollingUpdate"]
        assert rolling["maxUnavailable"] == 0, workload["metadata"]["name"]


def test_scheduler_rolls_one_replica_at_a_time_and_keeps_a_standby(manifest: Any) -> None:
    """Replaced one pod at a time (never a third one): the other keeps moving
    delayed jobs and takes the lead meanwhile."""
    scheduler = manifest.get("Deployment", "scheduler")
    assert scheduler["spec"]["replicas"] >= 2, "a single scheduler has no standby"
    rolling = scheduler["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 1
    assert rolling["maxSurge"] == 0
    pdb = next(
        p
        for p in manifest.of_kind("PodDisruptionBudget")
        if manifest.workloads_selected_by(p["spec"]["selector"]) == [scheduler]
    )
    assert pdb["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in pdb["spec"]


def test_scheduler_replicas_prefer_different_nodes(manifest: Any) -> None:
    scheduler = manifest.get("Deployment", "scheduler")
    pod_spec = scheduler["spec"]["template"]["spec"]
    anti = pod_spec["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti, "a small cluster must fit"
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    selected = manifest.workloads_selected_by(term["podAffinityTerm"]["labelSelector"])
    assert selected == [scheduler]


def test_scheduler_stops_on_term_without_hooks(manifest: Any) -> None:
    """It holds no job and exits within a second of SIGTERM, releasing the
    leader lock: no preStop hook and no command override (which would drop
    tini), and a short grace period that still leaves it a few seconds."""
    c = manifest.container("scheduler")
    assert "lifecycle" not in c.spec
    assert "command" not in c.spec and "args" not in c.spec
    assert 5 <= c.pod_spec["terminationGracePeriodSeconds"] <= 60


def test_http_services_drain_within_their_grace_period(manifest: Any) -> None:
    """preStop sleep, then gunicorn's graceful timeout, must fit in the grace period."""
    graceful_timeouts = {
        "enqueuer": float(
            manifest.plain_env(manifest.container("enqueuer")).get("ENQUEUER_GRACEFUL_TIMEOUT", 30)
        ),
        "frontend": 10.0,  # fixed in resque-frontend's gunicorn command line
    }
    for name, graceful in graceful_timeouts.items():
        c = manifest.container(name)
        sleep = c.spec["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep"
        assert c.pod_spec["terminationGracePeriodSeconds"] > graceful + int(sleep[1]), name
