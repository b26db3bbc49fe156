"""Build every image once per test session, the way `make images` does (registry-free bases)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VERSION = (REPO / "VERSION").read_text().strip()  # the one version of resque-py
SERVICES = ("redis", "enqueuer", "worker", "frontend", "scheduler")
LOCAL_BASES = {
    "PYTHON_IMAGE": "resque-py/python-base:bookworm",
    "REDIS_IMAGE": "resque-py/redis-base:bookworm",
}


def image(service: str) -> str:
    return f"resque-py/{service}:{VERSION}"


def build_all(services: tuple[str, ...] = SERVICES) -> None:
    """Base images (skipped when present), then the service images (BuildKit cache)."""
    targets = " ".join(services)
    env = {**os.environ, **LOCAL_BASES, "VERSION": VERSION, "QUIET": "1", "TARGETS": targets}
    for script in ("build-base-images.sh", "build-images.sh"):
        result = subprocess.run(
            [str(REPO / "deploy" / "docker" / script)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{script} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
