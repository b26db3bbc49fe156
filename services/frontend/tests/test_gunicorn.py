"""The real thing: ``resque-frontend`` execs gunicorn; scrape /metrics over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from redis_runner.server import free_port
from resque_proto import Resque


@pytest.fixture
def frontend(redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "REDIS_URL": redis_url, "WEB_CONCURRENCY": "2",
           "RESQUE_NAMESPACE": "resque"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "resque_frontend"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"resque-frontend did not start: {process.communicate()[1].decode()}")
        time.sleep(0.1)
    yield base
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


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
