"""Scheduler test fixtures: a factory of real scheduler processes, stopped afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from resque_proto import Resque

sys.path.insert(0, str(Path(__file__).parent))

from scheduler_harness import SchedulerProcess, StartScheduler


@pytest.fixture
def resque(redis_client: redis.Redis) -> Resque:
    return Resque(redis_client, "resque")


@pytest.fixture
def start_scheduler(redis_url: str, tmp_path: Path) -> Iterator[StartScheduler]:
    started: list[SchedulerProcess] = []

    def start(**settings: str) -> SchedulerProcess:
        process = SchedulerProcess(
            redis_url, tmp_path / f"scheduler-{len(started)}.log", **settings
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
