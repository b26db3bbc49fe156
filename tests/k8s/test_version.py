"""The version of resque-py lives in one place, the repository's VERSION file,
and every package, image tag and manifest agrees with it: the workspace
packages read it (hatchling's dynamic version), the image build script and
the Makefile default to it, Compose's image defaults, the e2e suite's image
names and the Kubernetes `images:` tags equal it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import images

REPO = Path(__file__).resolve().parents[2]
VERSION = (REPO / "VERSION").read_text().strip()
MEMBERS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
MODULES = {"resque-enqueuer": "resque_enqueuer", "resque-worker": "resque_worker",
           "resque-scheduler": "resque_scheduler"}  # fmt: skip


def test_the_version_file_holds_one_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    assert (REPO / "VERSION").read_text() == f"{VERSION}\n"


@pytest.mark.parametrize("member", MEMBERS)
def test_every_package_reads_the_version_file(member: str) -> None:
    project = tomllib.loads((REPO / member / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    source = project["tool"]["hatch"]["version"]
    assert (REPO / member / source["path"]).resolve() == REPO / "VERSION"
    assert metadata.version(project["project"]["name"]) == VERSION, "run `uv sync`"


def test_the_root_project_and_the_modules_say_the_same() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert root["project"]["version"] == VERSION
    for module in MODULES.values():
        assert import_module(module).__version__ == VERSION, module


def test_image_builds_default_to_the_version_file() -> None:
    script = (REPO / "deploy/docker/build-images.sh").read_text()
    assert "VERSION=${VERSION:-$(cat VERSION)}" in script
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run([make, "-n", "images", "BASE=official"], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert f"VERSION={VERSION} deploy/docker/build-images.sh" in dry_run.stdout


def test_compose_defaults_and_e2e_images_use_the_version() -> None:
    compose = (REPO / "deploy/compose/compose.yaml").read_text()
    tags = re.findall(r"image: resque-py/[a-z]+:(\S+)", compose)
    assert tags and set(tags) == {f"${{RESQUE_PY_VERSION:-{VERSION}}}"}
    assert images.VERSION == VERSION
    assert images.image("worker") == f"resque-py/worker:{VERSION}"


def test_kubernetes_tags_are_set_once_to_the_version() -> None:
    kustomization = yaml.safe_load((REPO / "deploy/k8s/base/kustomization.yaml").read_text())
    tags = {entry["name"]: entry["newTag"] for entry in kustomization["images"]}
    assert tags == {f"resque-py/{s}": VERSION for s in images.SERVICES}
    written = [
        str(p.relative_to(REPO))
        for p in (REPO / "deploy/k8s").rglob("*.yaml")
        if re.search(r"image: resque-py/[a-z]+:", p.read_text())
    ]
    assert written == [], "tag resque-py images in base/kustomization.yaml `images:` only"


def test_every_rendered_resque_py_image_carries_the_version(manifest: Any) -> None:
    for container in manifest.containers():
        image = container.spec["image"]
        if image.startswith("resque-py/"):
            assert image.endswith(f":{VERSION}"), f"{container.label}: {image}"
