"""The monitoring configs other parts ship must match what /metrics exports.

Every PromQL expression of the Grafana dashboard (shared by Compose and
Kubernetes) may use only metric names that this frontend or the enqueuer really
exports; Prometheus's own ``promtool`` (Debian's ``prometheus`` package) checks
the Compose scrape config (which scrapes both) and the syntax of every dashboard
expression. promtool checks skip when it is missing locally, but fail under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from frontend_testkit import seed_demo
from prometheus_client.parser import text_string_to_metric_families

from resque_enqueuer.app import create_app as create_enqueuer
from resque_enqueuer.config import Config as EnqueuerConfig
from resque_proto import Resque

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy/k8s/components/monitoring/grafana-dashboard.json"
PROMETHEUS_CONFIG = ROOT / "deploy/compose/monitoring/prometheus.yml"
METRIC = re.compile(r"\bresque_[a-z_]+\b")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$queue": ".*"}


def expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from expressions(value)


def dashboard_expressions() -> list[str]:
    if not DASHBOARD.exists():
        pytest.skip(f"{DASHBOARD.relative_to(ROOT)} is not there yet")
    found = list(expressions(json.loads(DASHBOARD.read_text())))
    assert found, "the dashboard has no PromQL expressions"
    return found


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


def exported_names(body: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(body) for s in f.samples}


def enqueuer_metrics(redis_url: str) -> str:
    """The enqueuer's /metrics after it answered an API request (a labelled
    series exists only once its first request is counted)."""
    enqueuer = create_enqueuer(EnqueuerConfig(redis_url=redis_url)).test_client()
    job = {"queue": "contract", "class": "Archive", "args": [1]}
    assert enqueuer.post("/jobs", json=job).status_code == 202
    return enqueuer.get("/metrics").get_data(as_text=True)


def test_dashboard_uses_only_exported_metric_names(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis, redis_url: str
) -> None:
    seed_demo(resque, redis_client)
    frontend = exported_names(client.get("/metrics").get_data(as_text=True))
    enqueuer = exported_names(enqueuer_metrics(redis_url))
    used = {name for expr in dashboard_expressions() for name in METRIC.findall(expr)}
    assert used, "the dashboard queries no resque_ metric"
    assert used <= frontend | enqueuer, f"not exported: {sorted(used - frontend - enqueuer)}"
    assert used & (enqueuer - frontend), "no panel shows the enqueuer's own metrics"


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    tool = promtool()
    rules = []
    for n, expr in enumerate(dashboard_expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:expr_{n}", "expr": expr})
    path = tmp_path / "rules.json"  # JSON is YAML
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([tool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_config_is_valid_and_scrapes_the_frontend_and_enqueuer() -> None:
    tool = promtool()
    if not PROMETHEUS_CONFIG.exists():
        pytest.skip(f"{PROMETHEUS_CONFIG.relative_to(ROOT)} is not there yet")
    result = subprocess.run([tool, "check", "config", str(PROMETHEUS_CONFIG)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config = PROMETHEUS_CONFIG.read_text()
    assert '"frontend:8080"' in config  # the frontend's contract port
    assert '"enqueuer:8000"' in config  # the enqueuer's
