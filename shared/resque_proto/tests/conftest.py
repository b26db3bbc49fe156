"""Helpers for resque_proto tests: run code under a given local time zone."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

# POSIX TZ strings need no zoneinfo files on the machine.
BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"
UTC = "UTC0"


@contextmanager
def local_zone(tz: str) -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def in_zone() -> Callable[[str], object]:
    return local_zone
