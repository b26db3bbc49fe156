"""Boolean settings: one strict reading (resque_proto.settings) for every part."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resque_worker.config import load

ACCEPTED = ("1, true, yes or on", "0, false, no, off or empty")


@pytest.mark.parametrize("name", ["FORK_PER_JOB", "TERM_CHILD", "GRACEFUL_TERM"])
def test_an_unknown_boolean_stops_the_worker_with_exit_2_and_one_line(
    name: str, redis_url: str
) -> None:
    """FORK_PER_JOB=enabled used to count as true (any word not false did)."""
    env = {**os.environ, "REDIS_URL": redis_url, "QUEUES": "q", "INTERVAL": "0",
           "RESQUE_JOBS": "", name: "enabled"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "resque_worker"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"resque-worker: {name}='enabled' ")
    assert all(words in lines[0] for words in ACCEPTED), lines[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), (" YES ", True), ("On", True),
     ("0", False), ("false", False), ("No", False), (" OFF", False)],
)  # fmt: skip
def test_boolean_words_any_case_and_spacing(value: str, expected: bool) -> None:
    config = load(["--queues", "q"], {"FORK_PER_JOB": value, "TERM_CHILD": value,
                                      "GRACEFUL_TERM": value})  # fmt: skip
    assert (config.fork_per_job, config.term_child, config.graceful_term) == (expected,) * 3


def test_boolean_defaults_and_an_empty_flag() -> None:
    config = load(["--queues", "q"], {})
    assert (config.fork_per_job, config.term_child, config.graceful_term) == (True, False, False)
    assert not load(["--queues", "q", "--fork-per-job", ""], {}).fork_per_job
