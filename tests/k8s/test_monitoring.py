"""The Grafana dashboard shows every metric of DESIGN.md section 5 and the
enqueuer's own, the monitoring component scrapes the frontend's and the
enqueuer's /metrics and ships the same dashboard file as a ConfigMap, and every
alert links its section of docs/runbooks.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy/k8s/components/monitoring/grafana-dashboard.json"
RUNBOOKS = REPO / "docs/runbooks.md"
RUNBOOK_BASE = "https://github.com/resque-py/resque-py/blob/main/docs/runbooks.md"
# DESIGN.md section 5, the metrics contract.
METRICS = {
    "resque_queue_jobs": "gauge",
    "resque_queue_latency_seconds": "gauge",
    "resque_workers": "gauge",
    "resque_jobs_processed_total": "counter",
    "resque_jobs_failed_total": "counter",
    "resque_failed_jobs": "gauge",
    "resque_job_duration_seconds": "histogram",
    "resque_up": "gauge",
    # The scheduler's, computed by the frontend from Redis (the scheduler serves no port).
    "resque_delayed_jobs": "gauge",
    "resque_delayed_oldest_overdue_seconds": "gauge",
    "resque_schedule_lag_seconds": "histogram",
    "resque_scheduler_leader": "gauge",
}
# The enqueuer's own (services/enqueuer/src/resque_enqueuer/metrics.py), per pod.
ENQUEUER_METRICS = {
    "resque_enqueuer_http_requests_total": "counter",
    "resque_enqueuer_http_request_duration_seconds": "histogram",
    "resque_enqueuer_jobs_enqueued_total": "counter",
    "resque_enqueuer_jobs_scheduled_total": "counter",
}
ALL_METRICS = {**METRICS, **ENQUEUER_METRICS}
HISTOGRAMS = [name for name, kind in ALL_METRICS.items() if kind == "histogram"]
KNOWN = set(ALL_METRICS) | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
# kubectl apply keeps the whole object in an annotation limited to 256 KiB.
LAST_APPLIED_LIMIT = 262144


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def expressions() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(resque_[a-z_]+)\b", expr))


def test_every_contract_and_enqueuer_metric_has_a_panel() -> None:
    used = set().union(*(metric_names(e) for e in expressions()))
    for name, kind in ALL_METRICS.items():
        wanted = f"{name}_bucket" if kind == "histogram" else name
        assert wanted in used, f"no panel shows {name}"


def test_no_panel_uses_an_unknown_metric() -> None:
    for expr in expressions():
        assert metric_names(expr) <= KNOWN, expr


def test_enqueuer_panels_add_up_every_pod_and_leave_probes_out() -> None:
    """Each enqueuer pod counts only its own requests (unlike the frontends,
    which all report the same Redis-wide numbers): sum, never max."""
    enqueuer = [e for e in expressions() if "resque_enqueuer_" in e]
    assert enqueuer
    for expr in enqueuer:
        assert "max" not in expr and "sum" in expr, expr
        if "http_request" in expr:
            assert 'route!~"/metrics|/healthz|/readyz"' in expr, expr
    quantiles = {e.split(",")[0] for e in enqueuer if e.startswith("histogram_quantile(")}
    assert quantiles == {f"histogram_quantile({q}" for q in ("0.5", "0.95", "0.99")}
    assert any('status=~"5.."' in e for e in enqueuer), "no error panel"


def test_counters_and_histograms_are_shown_as_rates() -> None:
    for expr in expressions():
        for name in metric_names(expr):
            if name.endswith(("_total", "_bucket", "_sum", "_count")):
                assert re.search(rf"rate\({name}\b", expr), f"{name} not under rate(): {expr}"


def test_duration_quantiles_per_queue() -> None:
    quantiles = {}
    for expr in expressions():
        match = re.match(r"histogram_quantile\((0\.\d+), (.*)\)$", expr)
        if match and "resque_job_duration_seconds_bucket" in expr:
            assert "by (queue, le)" in match.group(2), expr
            quantiles[match.group(1)] = expr
    assert set(quantiles) == {"0.5", "0.95", "0.99"}


def test_scheduler_panels_show_the_leader_the_delayed_jobs_and_the_lag() -> None:
    exprs = expressions()
    # The leader's sample carries its name; none at all when no scheduler leads.
    assert "count(max by (scheduler) (resque_scheduler_leader)) or vector(0)" in exprs
    assert "max(resque_delayed_jobs)" in exprs
    assert "max(resque_delayed_oldest_overdue_seconds)" in exprs
    lag = [e for e in exprs if "resque_schedule_lag_seconds_bucket" in e]
    assert lag and all(e.startswith("histogram_quantile(0.") for e in lag)
    assert all("max by (le) (rate(resque_schedule_lag_seconds_bucket[" in e for e in lag)


def test_workers_by_state_and_queues_by_queue() -> None:
    exprs = expressions()
    assert any("by (state) (resque_workers)" in e for e in exprs)
    assert any(re.search(r"by \(queue\) \(resque_queue_jobs\b", e) for e in exprs)
    assert any(re.search(r"by \(queue\) \(resque_queue_latency_seconds\b", e) for e in exprs)


def test_dashboard_is_portable_and_well_formed() -> None:
    """Works on any Grafana with a Prometheus data source: every query goes
    through the $datasource variable; panel ids are unique and panels do not
    overlap on the 24-column grid."""
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
    assert board["uid"] and len(board["uid"]) <= 40


def test_service_monitors_scrape_metrics_of_the_frontend_and_enqueuer(manifest: Any) -> None:
    scraped = []
    for monitor in manifest.of_kind("ServiceMonitor"):
        spec = monitor["spec"]
        services = [
            s
            for s in manifest.of_kind("Service")
            if all(
                s["metadata"].get("labels", {}).get(k) == v
                for k, v in spec["selector"]["matchLabels"].items()
            )
        ]
        assert len(services) == 1, monitor["metadata"]["name"]
        port_names = {p["name"] for p in services[0]["spec"]["ports"]}
        for endpoint in spec["endpoints"]:
            assert endpoint["port"] in port_names
            assert endpoint["path"] == "/metrics"
        scraped.append(services[0]["metadata"]["name"])
    assert sorted(scraped) == ["enqueuer", "frontend"]


def test_dashboard_config_map_carries_the_file_for_grafanas_sidecar(manifest: Any) -> None:
    config_map = manifest.get("ConfigMap", "resque-grafana-dashboard")
    assert config_map is not None
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (content,) = config_map["data"].values()
    assert json.loads(content) == dashboard()
    assert len(json.dumps(config_map)) < LAST_APPLIED_LIMIT


def test_alert_rules_use_contract_metrics_and_say_what_is_wrong(manifest: Any) -> None:
    known = KNOWN
    (rule_set,) = manifest.of_kind("PrometheusRule")
    rules = [r for group in rule_set["spec"]["groups"] for r in group["rules"]]
    assert rules
    for rule in rules:
        expr = str(rule["expr"])
        assert metric_names(expr) and metric_names(expr) <= known, expr
        assert expr.count("(") == expr.count(")"), expr
        for name in metric_names(expr):
            if name.endswith("_total"):
                assert re.search(rf"(rate|increase)\({name}\b", expr), expr
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    assert "min(resque_up) == 0" in {str(r["expr"]) for r in rules}


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """docs/runbooks.md's level-2 sections by anchor."""
    parts = re.split(r"^## (.+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    return {
        github_anchor(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def test_every_alert_links_its_runbook_section(manifest: Any) -> None:
    """Each alert's runbook_url resolves to a heading of docs/runbooks.md whose
    section says what it means, how to check and what to do."""
    (rule_set,) = manifest.of_kind("PrometheusRule")
    alerts = [r for group in rule_set["spec"]["groups"] for r in group["rules"] if "alert" in r]
    sections = runbook_sections()
    for alert in alerts:
        url = alert["annotations"].get("runbook_url", "")
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_BASE, f"{alert['alert']}: {url}"
        assert anchor == github_anchor(alert["alert"]), url
        assert anchor in sections, f"docs/runbooks.md has no heading for {alert['alert']}"
        for part in ("What it means", "How to check", "What to do"):
            assert f"**{part}.**" in sections[anchor], f"{alert['alert']}: no {part!r}"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return path


def rule_groups(manifest: Any) -> dict[str, Any]:
    (rule_set,) = manifest.of_kind("PrometheusRule")
    return {"groups": rule_set["spec"]["groups"]}


def test_alert_rules_pass_promtool_check(manifest: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps(rule_groups(manifest)))  # JSON is YAML
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# promtool unit tests: synthetic series from two frontend replicas (which report
# the same numbers), and the alerts that must fire, or stay quiet, on them.
ALERT_CASES = {
    "redis unreachable from a frontend for 5 minutes": (
        {
            'resque_up{instance="a"}': "1 0x10",
            'resque_up{instance="b"}': "1x10",
            'resque_workers{instance="a",state="idle"}': "2x10",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x10",
        },
        "5m",
        {"ResqueRedisUnreachable": [{"severity": "critical"}]},
    ),
    "backlog on one queue": (
        {
            'resque_up{instance="a"}': "1x30",
            'resque_queue_latency_seconds{instance="a",queue="low"}': "0+60x30",
            'resque_queue_latency_seconds{instance="a",queue="critical"}': "0x30",
            'resque_workers{instance="a",state="busy"}': "1x30",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x30",
        },
        "25m",
        {"ResqueQueueBacklog": [{"severity": "warning", "queue": "low"}]},
    ),
    "jobs waiting, no workers": (
        {
            'resque_up{instance="a"}': "1x15",
            'resque_queue_jobs{instance="a",queue="default"}': "3x15",
            'resque_workers{instance="a",state="idle"}': "0x15",
            'resque_workers{instance="a",state="busy"}': "0x15",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x15",
        },
        "15m",
        {"ResqueJobsWaitingWithoutWorkers": [{"severity": "critical"}]},
    ),
    "failures": (
        {
            'resque_up{instance="a"}': "1x20",
            'resque_jobs_failed_total{instance="a"}': "0 0 0 0 0 4 4 4 4 4 4 4 4 4 4 4 4",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x20",
        },
        "10m",
        {"ResqueJobsFailing": [{"severity": "warning"}]},
    ),
    "no frontend scraped": (
        {'up{instance="a",job="frontend"}': "0x15"},
        "12m",
        {"ResqueMetricsMissing": [{"severity": "warning"}]},
    ),
    "no scheduler holds the lock": (
        {
            'resque_up{instance="a"}': "1x10",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1 1 stale",
            'resque_scheduler_leader{instance="b",scheduler="s1:7"}': "1 1 stale",
        },
        "8m",
        {"ResqueSchedulerNoLeader": [{"severity": "critical"}]},
    ),
    "leader changes hands": (
        {
            'resque_up{instance="a"}': "1x20",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x5 stale",
            'resque_scheduler_leader{instance="a",scheduler="s2:7"}': "_x6 1x14",
        },
        "15m",
        {},
    ),
    "ruby-fed queue not draining (no latency sample)": (
        {
            'resque_up{instance="a"}': "1x40",
            'resque_queue_jobs{instance="a",queue="ruby"}': "5+1x40",
            'resque_queue_jobs{instance="a",queue="python"}': "5+1x40",
            'resque_queue_latency_seconds{instance="a",queue="python"}': "0+10x40",
            'resque_workers{instance="a",state="busy"}': "2x40",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x40",
        },
        "35m",
        {"ResqueQueueNotDraining": [{"severity": "warning", "queue": "ruby"}]},
    ),
    "ruby-fed queue draining": (
        {
            'resque_up{instance="a"}': "1x40",
            'resque_queue_jobs{instance="a",queue="ruby"}': "80-2x40",
            'resque_workers{instance="a",state="busy"}': "2x40",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x40",
        },
        "35m",
        {},
    ),
    "enqueue API failing": (
        {
            'resque_up{instance="a"}': "1x20",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x20",
            'resque_enqueuer_http_requests_total{instance="e1",route="/jobs",status="202"}': (
                "0+60x20"
            ),
            'resque_enqueuer_http_requests_total{instance="e1",route="/jobs",status="503"}': (
                "0+10x20"
            ),
            'resque_enqueuer_http_requests_total{instance="e2",route="/jobs",status="202"}': (
                "0+60x20"
            ),
        },
        "18m",
        {"ResqueEnqueuerErrors": [{"severity": "warning"}]},
    ),
    "delayed jobs not moved": (
        {
            'resque_up{instance="a"}': "1x15",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x15",
            'resque_delayed_oldest_overdue_seconds{instance="a"}': "0+60x15",
        },
        "10m",
        {"ResqueDelayedJobsOverdue": [{"severity": "warning"}]},
    ),
    "all well": (
        {
            'resque_up{instance="a"}': "1x20",
            'resque_scheduler_leader{instance="a",scheduler="s1:7"}': "1x20",
            'resque_delayed_oldest_overdue_seconds{instance="a"}': "0 2 0x18",
            'resque_queue_jobs{instance="a",queue="default"}': "3x20",
            'resque_queue_latency_seconds{instance="a",queue="default"}': "2x20",
            'resque_workers{instance="a",state="busy"}': "2x20",
            'resque_jobs_failed_total{instance="a"}': "7x20",
            'resque_enqueuer_http_requests_total{instance="e1",route="/jobs",status="202"}': (
                "0+60x20"
            ),
            'resque_enqueuer_http_requests_total{instance="e1",route="/jobs",status="503"}': (
                "0+1x20"
            ),
        },
        "20m",
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(ALERT_CASES))
def test_alerts_fire_when_they_should(rendered: dict[str, Any], tmp_path: Path, case: str) -> None:
    series, eval_time, firing = ALERT_CASES[case]
    groups = rule_groups(rendered["production"])
    (tmp_path / "rules.yaml").write_text(json.dumps(groups))
    alerts = {r["alert"]: r for g in groups["groups"] for r in g["rules"] if "alert" in r}
    assert set(firing) <= set(alerts), f"no such alert: {sorted(set(firing) - set(alerts))}"

    def expected(name: str, labels: dict[str, str]) -> dict[str, Any]:
        annotations = {
            key: value.replace("{{ $labels.queue }}", labels.get("queue", ""))
            for key, value in alerts[name]["annotations"].items()
        }
        return {"exp_labels": labels, "exp_annotations": annotations}

    alert_tests = [
        {
            "eval_time": eval_time,
            "alertname": name,
            "exp_alerts": [expected(name, labels) for labels in firing.get(name, [])],
        }
        for name in alerts
    ]
    unit = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": alert_tests,
            }
        ],
    }
    (tmp_path / "unit.yaml").write_text(json.dumps(unit))
    result = subprocess.run(
        [promtool(), "test", "rules", "unit.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
