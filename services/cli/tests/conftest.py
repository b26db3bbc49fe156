"""CLI test fixtures: the test Redis as a ``Resque``, and ``resque`` run against it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resque_proto import Resque, connect

sys.path.insert(0, str(Path(__file__).parent))  # cli_testkit

from cli_testkit import Run, RunCli, run_resque


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url), namespace="resque")


@pytest.fixture
def cli(redis_url: str) -> RunCli:
    """``cli("queues", "--json")``: the console script on the test Redis."""

    def run(*args: str, **env: str) -> Run:
        return run_resque(redis_url, *args, **env)

    return run
