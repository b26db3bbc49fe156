"""Is a Docker engine reachable? Skip the e2e suite locally when not; fail under CI."""

from __future__ import annotations

import os

import docker
import pytest
from docker.errors import DockerException


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_engine() -> docker.DockerClient:
    """A client for a live engine, or skip (fail with ``CI=true``) with a clear message."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as error:
        message = (
            f"e2e suite needs a Docker engine and none is reachable ({error}). "
            "Start dockerd (see docs/deploy.md) or set DOCKER_HOST."
        )
        if in_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return client
