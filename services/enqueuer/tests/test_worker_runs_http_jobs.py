"""End to end on one machine: jobs enqueued over HTTP are run by our worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis
import requests


def test_jobs_enqueued_over_http_are_performed_by_resque_worker(
    start_enqueuer: Any, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    enqueuer = start_enqueuer(redis_url, workers=1)
    single = {"queue": "file_serve", "class": "Archive", "args": [44, "masterbrew"]}
    batch = {"jobs": [{"queue": "file_serve", "class": "Archive", "args": [n]} for n in (1, 2)]}
    assert requests.post(enqueuer.url + "/jobs", json=single, timeout=30).status_code == 202
    assert requests.post(enqueuer.url + "/jobs/batch", json=batch, timeout=30).status_code == 202
    output = tmp_path / "ran.jsonl"

    subprocess.run(
        [sys.executable, "-m", "resque_worker", "--burst"],
        env={
            **os.environ,
            "REDIS_URL": redis_url,
            "QUEUES": "file_serve",
            "RESQUE_JOBS": "resque_worker.examples",
            "RESQUE_EXAMPLES_OUTPUT": str(output),
        },
        check=True,
        timeout=120,
        capture_output=True,
    )

    ran = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["job"], r["repo_id"], r["branch"]) for r in ran] == [
        ("Archive", 44, "masterbrew"),
        ("Archive", 1, "master"),
        ("Archive", 2, "master"),
    ]
    assert redis_client.get("resque:stat:processed") == b"3"
    assert redis_client.llen("resque:failed") == 0
