"""The real thing: ``resque-frontend`` execs gunicorn; scrape /metrics over HTTP."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from resque_proto import Resque


def test_gunicorn_serves_metrics_and_pages(frontend: str, resque: Resque) -> None:
    resque.enqueue("file_serve", "Archive", 44)
    resque.failures.create(
        payload={"class": "Archive", "args": [1]},
        exception="IOError",
        error="disk full",
        backtrace=[],
        worker="h:1:q",
        queue="file_serve",
    )
    body = requests.get(f"{frontend}/metrics", timeout=10).text
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert samples[("resque_up", ())] == 1
    assert samples[("resque_queue_jobs", (("queue", "file_serve"),))] == 1
    assert samples[("resque_failed_jobs", ())] == 1
    assert samples[("resque_jobs_failed_total", ())] == 1
    assert requests.get(f"{frontend}/readyz", timeout=10).status_code == 200
    page = requests.get(f"{frontend}/failed", timeout=10)
    assert page.status_code == 200
    assert "disk full" in page.text
