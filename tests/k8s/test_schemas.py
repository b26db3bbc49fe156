"""Every rendered object validates offline: built-in kinds with
``kubernetes-validate --strict`` for the oldest Kubernetes we support and the
newest it knows, custom resources against the schemas in ``crd_schemas/``.
An object of a kind neither knows fails: nothing is skipped silently.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

# The oldest Kubernetes minor we support (docs/kubernetes.md explains why) and
# the newest one kubernetes-validate bundles schemas for (removed APIs show up).
OLDEST_SUPPORTED = "1.27.0"
NEWEST_KNOWN = kubernetes_validate.latest_version()

CRD_DIR = Path(__file__).parent / "crd_schemas"


def load_crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        jsonschema.Draft202012Validator.check_schema(doc["schema"])
        schemas[(doc["apiVersion"], doc["kind"])] = doc["schema"]
    return schemas


CRD_SCHEMAS = load_crd_schemas()


def validation_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Why ``obj`` is invalid for Kubernetes ``version`` (empty when valid)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        validator = jsonschema.Draft202012Validator(CRD_SCHEMAS[key])
        return [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path))}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"no schema: {e.message} (add one to tests/k8s/crd_schemas/)"]
    return []


def test_oldest_supported_version_has_bundled_schemas() -> None:
    assert OLDEST_SUPPORTED in kubernetes_validate.utils.all_versions()


@pytest.mark.parametrize("version", [OLDEST_SUPPORTED, NEWEST_KNOWN])
def test_every_object_validates_strictly(manifest: Any, version: str) -> None:
    problems = [
        f"{obj['kind']}/{obj['metadata']['name']}: {error}"
        for obj in manifest.objects
        for error in validation_errors(obj, version)
    ]
    assert not problems, f"{manifest.overlay} against Kubernetes {version}:\n" + "\n".join(problems)


def test_kubernetes_validate_cli_passes_like_make_k8s(manifest: Any, tmp_path: Path) -> None:
    """The command ``make k8s`` runs, on the same render."""
    rendered_file = tmp_path / f"{manifest.overlay}.yaml"
    rendered_file.write_text(yaml.safe_dump_all(manifest.objects))
    cli = Path(sys.executable).parent / "kubernetes-validate"
    proc = subprocess.run(
        [str(cli), "--strict", "--quiet", "-k", OLDEST_SUPPORTED, str(rendered_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ERROR" not in proc.stdout
    # Only our custom resources lack a bundled schema (they are checked above).
    warned = {
        line.split("kind ")[1].split()[0] for line in proc.stdout.splitlines() if "WARN" in line
    }
    assert warned == {k for _, k in CRD_SCHEMAS}


def test_overlays_contain_the_custom_resources_they_should(manifest: Any) -> None:
    kinds = {o["kind"] for o in manifest.objects}
    assert {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"} <= kinds


def mutated(obj: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Deployment", ["spec", "template", "spec", "enableServiceLink"], False),
        ("Deployment", ["spec", "replicas"], "two"),
        ("StatefulSet", ["spec", "template", "spec", "containers", 0, "stopSignal"], "SIGQUIT"),
        ("ScaledObject", ["spec", "minReplicas"], 1),
        ("ScaledObject", ["spec", "triggers", 0, "metadata", "listname"], "resque:queue:x"),
        ("ScaledObject", ["spec", "triggers", 0, "metadata", "listLength"], "ten"),
        ("TriggerAuthentication", ["spec", "secretTargetRef", 0, "secret"], "x"),
        ("ServiceMonitor", ["spec", "endpoints", 0, "interval"], "30 seconds"),
        ("ServiceMonitor", ["spec", "endpoint"], []),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "for"], "two minutes"),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "record"], "also_a_record"),
    ],
)
def test_validation_catches_mistakes(
    rendered: dict[str, Any], kind: str, path: list[str | int], value: Any
) -> None:
    """The validators are not vacuous: a typical mistake in each kind fails."""
    manifest = rendered["production"]
    original = manifest.of_kind(kind)[0]
    assert validation_errors(original, OLDEST_SUPPORTED) == []
    assert validation_errors(mutated(original, path, value), OLDEST_SUPPORTED) != []


def test_oldest_version_rejects_fields_it_lacks(rendered: dict[str, Any]) -> None:
    """Why we validate against the oldest version: ``lifecycle.stopSignal``
    (alpha in 1.33) is valid for new clusters and must not slip into ours."""
    worker = rendered["production"].get("Deployment", "worker")
    with_stop_signal = mutated(
        worker,
        ["spec", "template", "spec", "containers", 0, "lifecycle"],
        {"stopSignal": "SIGQUIT"},
    )
    assert validation_errors(with_stop_signal, NEWEST_KNOWN) == []
    assert validation_errors(with_stop_signal, OLDEST_SUPPORTED) != []


def test_make_k8s_validates_for_the_same_oldest_version() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert f"K8S_OLDEST := {OLDEST_SUPPORTED}\n" in makefile
