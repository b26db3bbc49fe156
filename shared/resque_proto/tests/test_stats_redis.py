"""The ``pause-all-workers`` flag as Resque 3.0 reads it, on a real Redis."""

from __future__ import annotations

import pytest
import redis

from resque_proto import Resque, connect


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url))


@pytest.mark.parametrize("value", ["true", "TRUE", " True ", "\ttrue\n", "tRuE\x00"])
def test_any_case_and_surrounding_whitespace_pause(
    resque: Resque, redis_client: redis.Redis, value: str
) -> None:
    redis_client.set("resque:pause-all-workers", value)
    assert resque.stats.paused()


@pytest.mark.parametrize("value", ["", "false", "yes", "1", "t rue", "truer"])
def test_other_values_do_not_pause(resque: Resque, redis_client: redis.Redis, value: str) -> None:
    redis_client.set("resque:pause-all-workers", value)
    assert not resque.stats.paused()


def test_pause_all_and_resume_all(resque: Resque, redis_client: redis.Redis) -> None:
    assert not resque.stats.paused()
    resque.stats.pause_all()
    assert redis_client.get("resque:pause-all-workers") == b"true"
    assert resque.stats.paused()
    resque.stats.resume_all()
    assert not resque.stats.paused()
