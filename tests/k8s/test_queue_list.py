"""The queue list is set in one place (the ``resque-queues`` ConfigMap,
base/config/queues.env): the workers' QUEUES, the enqueuer's allow-list and
KEDA's triggers all follow an overlay that changes it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

K8S_DIR = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
BASE_LIST = "critical,file_serve,default"


def overlay_with_queues(workdir: Path, queues: str) -> Path:
    """A copy of deploy/k8s whose dev overlay sets QUEUES, the documented way."""
    tree = workdir / "k8s"
    shutil.copytree(K8S_DIR, tree)
    kustomization = tree / "overlays" / "dev" / "kustomization.yaml"
    config = yaml.safe_load(kustomization.read_text())
    config["configMapGenerator"].append(
        {"name": "resque-queues", "behavior": "merge", "literals": [f"QUEUES={queues}"]}
    )
    kustomization.write_text(yaml.safe_dump(config, sort_keys=False))
    return kustomization.parent


def queue_settings(manifest: Any) -> tuple[str, str, list[str]]:
    """(worker QUEUES, enqueuer ENQUEUER_ALLOWED_QUEUES, KEDA list keys)."""
    worker = manifest.plain_env(manifest.container("worker"))["QUEUES"]
    enqueuer = manifest.plain_env(manifest.container("enqueuer"))["ENQUEUER_ALLOWED_QUEUES"]
    (scaled,) = manifest.of_kind("ScaledObject")
    keys = [t["metadata"]["listName"] for t in scaled["spec"]["triggers"]]
    return worker, enqueuer, keys


def test_every_overlay_reads_the_one_list(manifest: Any) -> None:
    worker, enqueuer, keys = queue_settings(manifest)
    assert worker == enqueuer == BASE_LIST
    assert keys == [f"resque:queue:{q}" for q in BASE_LIST.split(",")]


def test_the_list_is_written_once_under_deploy_k8s() -> None:
    holders = [
        str(p.relative_to(K8S_DIR))
        for p in K8S_DIR.rglob("*")
        if p.is_file() and BASE_LIST in p.read_text()
    ]
    assert holders == ["base/config/queues.env"]


def test_an_overlay_sets_the_list_once_for_workers_enqueuer_and_keda(
    tmp_path: Path, render: Callable[[Path], Any]
) -> None:
    manifest = render(overlay_with_queues(tmp_path, "mail,reports,low"))
    worker, enqueuer, keys = queue_settings(manifest)
    assert worker == enqueuer == "mail,reports,low"
    assert keys == ["resque:queue:mail", "resque:queue:reports", "resque:queue:low"]


def test_a_list_shorter_than_the_triggers_fails_the_build(tmp_path: Path, kubectl: str) -> None:
    """Fewer queues than KEDA triggers is a build error, not a trigger on a
    stale queue name (more queues than triggers: test_keda's one-trigger-per-
    queue check, on every overlay shipped here)."""
    path = overlay_with_queues(tmp_path, "mail,reports")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "out of bounds for value mail,reports" in result.stderr
