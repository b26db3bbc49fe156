"""The service's own Prometheus metrics: requests, latency, jobs enqueued and delayed.

gunicorn runs several worker processes, each with its own counters. With
``PROMETHEUS_MULTIPROC_DIR`` set (the ``resque-enqueuer`` launcher always sets
it, before any worker imports prometheus_client), every worker writes its
values to files there and ``/metrics`` sums the files of all workers, so a
scrape that lands on any worker sees the whole service. The gunicorn config
wipes the directory at start and marks each exited worker dead. Without the
variable (tests through Flask's client) the process-local registry is used.
``resque_build_info`` is computed at each scrape, in neither.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from resque_proto.version import build_labels

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "resque_enqueuer_http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "resque_enqueuer_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
JOBS = Counter("resque_enqueuer_jobs_enqueued_total", "Jobs written to Redis (replays excluded)")
SCHEDULED = Counter(
    "resque_enqueuer_jobs_scheduled_total",
    "Delayed jobs written to Redis, also counted in jobs_enqueued_total (replays excluded)",
)


class BuildInfo(Collector):
    """``resque_build_info`` (always 1): the version this part runs, as every part has it."""

    def __init__(self, part: str) -> None:
        self.labels = build_labels(part)

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "resque_build_info", "Always 1; the labels say what runs.", labels=list(self.labels)
        )
        info.add_metric(list(self.labels.values()), 1)
        yield info


BUILD_INFO = CollectorRegistry(auto_describe=False)
BUILD_INFO.register(BuildInfo("enqueuer"))

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def jobs_written(count: int, delayed: int) -> None:
    """``count`` jobs written, ``delayed`` of them as delayed jobs."""
    JOBS.inc(count)
    SCHEDULED.inc(delayed)


def install(app: Flask) -> None:
    app.before_request(start_timer)
    app.after_request(observe)
    app.add_url_rule("/metrics", "metrics", render, methods=["GET"])


def start_timer() -> None:
    g.started = time.perf_counter()


def observe(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in KNOWN_METHODS else "other"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    started = g.get("started")
    if started is not None:
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
    return response


def render() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    text += generate_latest(BUILD_INFO)
    return Response(text, mimetype=None, content_type=CONTENT_TYPE_LATEST)
