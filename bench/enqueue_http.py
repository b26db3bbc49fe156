"""HTTP enqueue benchmark: ``POST /jobs`` against the same app's trivial endpoint.

Starts its own Redis (redis_runner) and one ``resque-enqueuer`` (the production
gunicorn configuration: gevent workers, JSON access log), then loads it with
``wrk`` (Debian package ``wrk``) in one run:

* ``GET /healthz`` (a trivial JSON answer from the same app and middleware: the
  framework's ceiling) and ``POST /jobs`` at several connection counts;
* ``POST /jobs`` held near half its peak rate (each connection pauses between
  requests; wrk is closed-loop, so this is an approximation of a fixed rate);
* ``POST /jobs/batch`` with 100 and 1,000 jobs per request.

Prints a Markdown table for docs/benchmarks.md.
Run: ``uv run python bench/enqueue_http.py [--duration 5] [--connections 8,32,128]``.

``--min-replicas`` instead measures what ``ENQUEUER_MIN_REPLICAS=1`` costs: a
primary with one local replica, and ``POST /jobs`` through one enqueuer with
``ENQUEUER_MIN_REPLICAS=0`` and one with ``1`` (a ``WAIT 1`` after each write),
interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from redis_runner import RedisServer
from redis_runner.server import free_port

REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Run:
    label: str
    connections: int
    rate: float  # 2xx answers per second
    p50_ms: float
    p99_ms: float
    jobs_per_request: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # status -> count, non-2xx
    app_cpu_us: float = 0.0  # gunicorn workers' CPU time per request
    redis_cpu_us: float = 0.0  # redis-server's CPU time per request

    @property
    def jobs_per_s(self) -> float:
        return self.rate * self.jobs_per_request


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes, from /proc (robust to a busy machine)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def error_statuses(log_path: Path, offset: int) -> tuple[Counter[int], int]:
    """Status codes >= 300 in the JSON access log written after ``offset``."""
    with log_path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    statuses: Counter[int] = Counter()
    for line in data.splitlines():
        if b'"gunicorn.access"' in line:
            status = int(json.loads(line)["status"])
            if status >= 300:
                statuses[status] += 1
    return statuses, offset + len(data)


def lua_script(directory: Path, name: str, method: str, body: str, delay_ms: float) -> Path:
    lines = [f'wrk.method = "{method}"', 'wrk.headers["Content-Type"] = "application/json"']
    if body:
        lines.append(f"wrk.body = {json.dumps(body)}")
    if delay_ms:
        lines.append(f"delay = function() return {delay_ms:.3f} end")
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n" + REPORT)
    return path


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
        "-s", str(script), url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    [line] = [row for row in output.splitlines() if row.startswith("WRKJSON ")]
    result: dict[str, float] = json.loads(line.removeprefix("WRKJSON "))
    if result["errors"]:
        raise SystemExit(f"wrk saw socket errors against {url}: {result}\n{output}")
    return result


class Bench:
    def __init__(
        self,
        base_url: str,
        redis_url: str,
        duration: int,
        scripts: Path,
        app_master: int,
        redis_pid: int,
        app_log: Path,
    ) -> None:
        self.base_url = base_url
        self.app_log = app_log
        self.log_offset = 0
        self.app_master = app_master
        self.redis_pid = redis_pid
        self.redis = redis.Redis.from_url(redis_url)
        self.duration = duration
        self.scripts = scripts
        self.count = 0

    def run(
        self,
        label: str,
        path: str,
        connections: int,
        body: str = "",
        jobs: int = 0,
        delay_ms: float = 0.0,
    ) -> Run:
        self.redis.flushall()
        method = "POST" if body else "GET"
        self.count += 1
        script = lua_script(self.scripts, f"run-{self.count}", method, body, delay_ms)
        app_pids = children(self.app_master)
        app_before, redis_before = cpu_seconds(app_pids), cpu_seconds([self.redis_pid])
        result = wrk(self.base_url + path, script, connections, self.duration)
        app_cpu = cpu_seconds(app_pids) - app_before
        redis_cpu = cpu_seconds([self.redis_pid]) - redis_before
        refused, self.log_offset = error_statuses(self.app_log, self.log_offset)
        if jobs:
            acknowledged = result["requests"] - result["status_errors"]
            queued = int(self.redis.llen("resque:queue:bench"))
            assert queued >= acknowledged * jobs, "fewer jobs in Redis than acknowledged"
        return Run(
            label=label,
            connections=connections,
            rate=(result["requests"] - result["status_errors"]) / (result["duration_us"] / 1e6),
            refused=refused,
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            jobs_per_request=jobs,
            app_cpu_us=app_cpu / result["requests"] * 1e6,
            redis_cpu_us=redis_cpu / result["requests"] * 1e6,
        )


def job_body(count: int | None) -> str:
    job = {"queue": "bench", "class": "Archive", "args": [44, "master"]}
    if count is None:
        return json.dumps(job)
    return json.dumps({"jobs": [{**job, "args": [n, "master"]} for n in range(count)]})


def start_enqueuer(
    redis_url: str, workers: int, log_path: Path, **extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "REDIS_URL": redis_url,
        "ENQUEUER_MAX_BATCH": "1000",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-enqueuer-metrics-"),
        **extra,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "resque_enqueuer"], env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("resque-enqueuer did not become ready")


def shown_statuses(statuses: Counter[int]) -> str:
    return ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items())) or "0"


def table(runs: list[Run]) -> str:
    rows = [
        "| load | connections | requests/s | jobs/s | p50 ms | p99 ms | app CPU µs/req "
        "| Redis CPU µs/req | non-2xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        jobs = f"{run.jobs_per_s:,.0f}" if run.jobs_per_request else "—"
        rows.append(
            f"| {run.label} | {run.connections} | {run.rate:,.0f} | {jobs} | "
            f"{run.p50_ms:.2f} | {run.p99_ms:.2f} | {run.app_cpu_us:,.0f} | "
            f"{run.redis_cpu_us:,.0f} | {shown_statuses(run.refused)} |"
        )
    return "\n".join(rows)


def measure(bench: Bench, connections: list[int]) -> list[Run]:
    runs: list[Run] = []
    single = job_body(None)
    for count in connections:
        runs.append(bench.run("GET /healthz (trivial)", "/healthz", count))
        runs.append(bench.run("POST /jobs", "/jobs", count, single, jobs=1))
    peak = max(r.rate for r in runs if r.label == "POST /jobs")
    half_connections = 16
    delay_ms = 1000 * half_connections / (peak / 2)
    runs.append(
        bench.run(
            "POST /jobs at ~half peak", "/jobs", half_connections, single, 1, delay_ms=delay_ms
        )
    )
    for size in (100, 1000):
        for count in (4, 16):
            runs.append(
                bench.run(f"POST /jobs/batch x{size}", "/jobs/batch", count, job_body(size), size)
            )
    return runs


def summary(runs: list[Run]) -> str:
    """Issue #12's targets, each with its figure from this run and met / NOT MET."""

    def at_32(label: str) -> Run:
        return next(r for r in runs if r.label.startswith(label) and r.connections == 32)

    trivial, single = at_32("GET /healthz"), at_32("POST /jobs")
    batch = max(r.jobs_per_s for r in runs if r.label == "POST /jobs/batch x1000")
    half = next(r for r in runs if r.label == "POST /jobs at ~half peak")
    trivial_cpu = min(r.app_cpu_us for r in runs if r.label.startswith("GET /healthz"))
    single_cpu = min(r.app_cpu_us for r in runs if r.label == "POST /jobs")
    targets = [
        (f"POST /jobs / GET /healthz, requests/s at 32 connections ({single.rate:,.0f} / "
         f"{trivial.rate:,.0f})", f"{single.rate / trivial.rate:.0%}", ">= 80%",
         single.rate >= 0.8 * trivial.rate),
        (f"app CPU per request, POST /jobs / GET /healthz (lowest seen: {single_cpu:,.0f} / "
         f"{trivial_cpu:,.0f} µs)", f"{single_cpu / trivial_cpu:.2f}x", "<= 1.5x",
         single_cpu <= 1.5 * trivial_cpu),
        (f"p99 at {half.rate:,.0f} req/s (~half peak)", f"{half.p99_ms:.2f} ms", "< 10 ms",
         half.p99_ms < 10),
        ("POST /jobs/batch, 1,000 jobs per request", f"{batch:,.0f} jobs/s", ">= 100,000",
         batch >= 100_000),
    ]  # fmt: skip
    return "\n".join(
        f"- {label}: {value} (target {goal}) {'met' if met else 'NOT MET'}"
        for label, value, goal, met in targets
    )


def measure_min_replicas(options: argparse.Namespace, connections: list[int]) -> None:
    """POST /jobs with ENQUEUER_MIN_REPLICAS 0 and 1, same primary and replica, interleaved."""
    from redis_runner.ha import ConfiguredRedis

    with (
        ConfiguredRedis() as primary,
        ConfiguredRedis(replica_of=primary),
        tempfile.TemporaryDirectory() as scripts,
    ):
        admin = redis.Redis.from_url(primary.url)
        deadline = time.monotonic() + 30
        while admin.wait(1, 100) != 1:
            if time.monotonic() > deadline:
                raise SystemExit("the replica did not sync")
        benches: dict[int, Bench] = {}
        processes = []
        try:
            for wanted in (0, 1):
                log = Path(scripts) / f"enqueuer-{wanted}.log"
                process, url = start_enqueuer(
                    primary.url, options.workers, log, ENQUEUER_MIN_REPLICAS=str(wanted)
                )
                processes.append(process)
                assert primary.process is not None
                benches[wanted] = Bench(url, primary.url, options.duration, Path(scripts),
                                        process.pid, primary.process.pid, log)  # fmt: skip
            runs: list[Run] = []
            for repeat in range(2):
                for count in connections:
                    for wanted, bench in benches.items():
                        label = f"POST /jobs, ENQUEUER_MIN_REPLICAS={wanted} (run {repeat + 1})"
                        runs.append(bench.run(label, "/jobs", count, job_body(None), jobs=1))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        version = admin.info()["redis_version"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{os.cpu_count()} CPUs (load average after the run: {load}), Python "
        f"{platform.python_version()}, Redis {version} with one replica on loopback, "
        f"{options.workers} gunicorn gevent workers, wrk -t1, {options.duration:g} s per row\n"
    )
    print(table(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per load level")
    parser.add_argument("--connections", default="8,32,128", help="comma-separated")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn")
    parser.add_argument(
        "--min-replicas",
        action="store_true",
        help="measure POST /jobs with ENQUEUER_MIN_REPLICAS=0 vs 1 instead",
    )
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/enqueue_http.py needs wrk: apt-get install wrk")
    connections = [int(c) for c in options.connections.split(",")]
    if options.min_replicas:
        measure_min_replicas(options, connections)
        return
    with RedisServer() as server, tempfile.TemporaryDirectory() as scripts:
        app_log = Path(scripts) / "enqueuer.log"
        process, url = start_enqueuer(server.url, options.workers, app_log)
        try:
            assert server.process is not None
            bench = Bench(
                url,
                server.url,
                options.duration,
                Path(scripts),
                process.pid,
                server.process.pid,
                app_log,
            )
            runs = measure(bench, connections)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        redis_version = redis.Redis.from_url(server.url).info()["redis_version"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{os.cpu_count()} CPUs (load average after the run: {load}), Python "
        f"{platform.python_version()}, Redis {redis_version}, {options.workers} gunicorn gevent "
        f"workers, wrk -t1, {options.duration:g} s per row\n"
    )
    print(table(runs))
    print()
    print(summary(runs))


if __name__ == "__main__":
    main()
