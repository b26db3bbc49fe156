"""The real thing: ``resque-frontend`` execs gunicorn; scrape /metrics over HTTP."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from redis_runner.polling import wait_for
from resque_proto import Resque
from resque_proto.version import VERSION


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
    labels = {"part": "frontend", "version": VERSION, "python": platform.python_version()}
    assert samples[("resque_build_info", tuple(sorted(labels.items())))] == 1
    assert samples[("resque_queue_jobs", (("queue", "file_serve"),))] == 1
    assert samples[("resque_failed_jobs", ())] == 1
    assert samples[("resque_jobs_failed_total", ())] == 1
    assert requests.get(f"{frontend}/readyz", timeout=10).status_code == 200
    page = requests.get(f"{frontend}/failed", timeout=10)
    assert page.status_code == 200
    assert "disk full" in page.text


def test_gunicorn_and_access_logs_are_json_lines(frontend: str, tmp_path: Path) -> None:
    """The enqueuer's access-line fields, in every part's JSON format (resque_proto.logs)."""
    answer = requests.get(f"{frontend}/queues", timeout=10, headers={"X-Request-Id": "r-7"})
    assert answer.status_code == 200
    log = tmp_path / "frontend.log"
    # gunicorn writes the access line after the answer is sent: wait for it
    wait_for(lambda: '"r-7"' in log.read_text(), what="the access line")
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg", "pid"} <= e.keys() for e in entries), lines
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["msg"] for e in entries)
    [access] = [e for e in entries if e.get("request_id") == "r-7"]
    assert access["logger"] == "gunicorn.access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/queues", 200)
    assert {"bytes", "duration_ms", "remote"} <= access.keys()
