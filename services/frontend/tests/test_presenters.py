"""Pure helpers: run-time quantiles from histogram buckets, human durations, ActiveJob."""

from __future__ import annotations

import json

import pytest
from frontend_testkit import ACTIVE_JOB

from resque_frontend.presenters import due, human_duration, job_view, utc
from resque_frontend.reads import quantile
from resque_proto.histogram import cumulative


def test_quantile_interpolates_like_prometheus() -> None:
    # 10 observations in the bucket (0.05, 0.1] and 10 in (0.5, 1.0] (bounds of BUCKETS);
    # like histogram_quantile, interpolate linearly inside the bucket holding the rank.
    buckets, _, _ = cumulative({"0.1": "10", "1.0": "10"})
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.25, buckets) == pytest.approx(0.075)
    assert quantile(0.75, buckets) == pytest.approx(0.75)


def test_quantile_of_nothing_and_of_the_overflow_bucket() -> None:
    assert quantile(0.5, cumulative({})[0]) is None
    assert quantile(0.99, cumulative({"3600.0": "1", "+Inf": "5"})[0]) == 3600.0


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "\u2014"), (0.0045, "4.5ms"), (0.12, "120ms"), (3.25, "3.2s"), (45, "45s"),
     (192, "3m 12s"), (7500, "2h 5m"), (356_400, "4d 3h")],
)  # fmt: skip
def test_human_duration(seconds: float | None, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_active_job_is_shown_by_its_real_class() -> None:
    view = job_view(json.loads(ACTIVE_JOB))
    assert (view.class_name, view.args) == ("ArchiveJob", [44, "masterbrew"])
    assert view.wrapper == "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper"
    assert view.extras["job_id"] == "5f0c1e2a-0000-4000-8000-000000000001"


def test_unreadable_payloads_are_shown_not_raised() -> None:
    assert job_view("raw text").class_name == "(unreadable payload)"
    assert job_view({"args": 5}).class_name == "(no class)"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "due now"), (-0.6, "due now"), (192, "in 3m 12s"), (-2, "2.0s overdue"),
     (-90_000, "1d 1h overdue")],
)  # fmt: skip
def test_due_relative_to_now(seconds: float, shown: str) -> None:
    assert due(seconds) == shown


def test_utc_of_a_time_and_of_no_calendar_time() -> None:
    assert utc(1796175433) == "2026-12-02 01:37:13 UTC"
    assert utc(1e300) == "1e+300"  # an "every" of 1e300 seconds still renders
