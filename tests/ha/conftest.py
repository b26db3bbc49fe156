"""tests/ha: real parts (worker, scheduler, enqueuer, frontend, CLI) against TLS, ACL,
replicated and Sentinel-managed Redis servers started by the tests (redis_runner.ha).

``parts``: starts part processes with a clean ``REDIS_*`` environment and stops
whatever is still running at the end of the test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # ha_support (and ha_jobs, which the workers import)

from ha_support import Parts  # noqa: E402


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    started = Parts(tmp_path)
    yield started
    started.stop_all()
