"""Frontend latency and Redis round trips per request on a big Redis.

Seeds 200 queues, 500 workers (200 busy) and 100,000 failure records, then
requests /metrics and every page through the Flask app in-process (server-side
time, no HTTP) and prints p50/p99 and the Redis round trips each request made.
Run with ``uv run python bench/frontend.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import requests

from redis_runner import RedisServer
from redis_runner.server import free_port
from resque_frontend.app import create_app
from resque_frontend.config import Settings
from resque_proto import Resque, connect
from resque_proto.records import failure_id, failure_record, working_record


class CountingConnection(redis.Connection):
    """A connection that counts what it sends: one send per round trip."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sends += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def seed(resque: Resque, queues: int, workers: int, busy: int, failures: int) -> None:
    client = resque.redis
    names = [f"q{n:03d}" for n in range(queues)]
    for name in names:
        resque.enqueue_many([(name, "Archive", [n, "master"]) for n in range(10)])
    for name in names[:20]:
        for n in range(5):
            worker = f"bench:{n}:{name}"
            resque.workers.register(worker)
            reserved = resque.jobs.reserve(worker, [name])
            assert reserved is not None
            resque.jobs.finish(worker, reserved, 0.01 * (n + 1))
            resque.workers.unregister(worker)
    pipe = client.pipeline(transaction=False)
    for n in range(workers):
        worker = f"host{n % 25:02d}:{1000 + n}:{names[n % queues]}"
        resque.workers.register(worker)
        if n < busy:
            payload = {"class": "Archive", "args": [n]}
            pipe.set(resque.keys.worker(worker), working_record(names[n % queues], payload))
    pipe.execute()
    batch = 5000
    for start in range(0, failures, batch):
        records = [
            failure_record(
                payload={"class": "Archive", "args": [n]},
                exception="IOError",
                error=f"disk full {n}",
                backtrace=["a.py:1", "b.py:2"],
                worker="host00:1000:q000",
                queue=names[n % queues],
            )
            for n in range(start, min(start + batch, failures))
        ]
        client.rpush(resque.keys.failed, *records)


def measure(client: Any, path: str, runs: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, round trips per request) over ``runs`` requests."""
    client.get(path)  # warm up (script loads, template compilation)
    times, trips = [], []
    for _ in range(runs):
        before = CountingConnection.sends
        began = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        trips.append(CountingConnection.sends - before)
        assert response.status_code == 200, (path, response.status_code)
    return (*percentiles(times), statistics.mean(trips))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--failures", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="small data, few runs")
    args = parser.parse_args()
    if args.quick:
        args.queues, args.workers, args.failures, args.runs = 20, 50, 5_000, 10
    with RedisServer() as server:
        client = connect(server.url)
        client.connection_pool.connection_class = CountingConnection
        resque = Resque(client, namespace="resque")
        began = time.perf_counter()
        seed(resque, args.queues, args.workers, args.workers * 2 // 5, args.failures)
        print(f"seeded {args.queues} queues, {args.workers} workers, {args.failures:,} "
              f"failures in {time.perf_counter() - began:.1f}s")  # fmt: skip
        app = create_app(Settings(redis_url=server.url, namespace="resque"), resque)
        http = app.test_client()
        record = resque.failures.get(args.failures // 2)
        assert record is not None
        worker = resque.workers.ids()[0]
        paths = [
            "/metrics", "/", "/working", "/queues", "/queues/q000",
            "/workers", f"/workers/{worker}", "/failed", f"/failed?page={args.failures // 50}",
            "/failed?queue=q007", "/failed?class=NoSuchJob",
            f"/failed/{record.index}/{failure_id(record.raw)}", "/stats", "/stats/keys",
        ]  # fmt: skip
        print("\n| request | p50 ms | p99 ms | Redis round trips |\n|---|---:|---:|---:|")
        for path in paths:
            p50, p99, trips = measure(http, path, args.runs)
            print(f"| `{path}` | {p50:.1f} | {p99:.1f} | {trips:g} |")
        print("\nOver HTTP, real gunicorn (resque-frontend, 2 processes x 4 threads):\n")
        print("| request | p50 ms | p99 ms |\n|---|---:|---:|")
        with running_frontend(server.url) as base:
            for path in ("/metrics", "/", "/workers", "/failed"):
                p50, p99 = measure_http(base + path, args.runs)
                print(f"| `{path}` | {p50:.1f} | {p99:.1f} |")


@contextmanager
def running_frontend(redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "REDIS_URL": redis_url, "WEB_CONCURRENCY": "2",
           "RESQUE_NAMESPACE": "resque"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "resque_frontend"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("resque-frontend did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure_http(url: str, runs: int) -> tuple[float, float]:
    session = requests.Session()
    session.get(url, timeout=30).raise_for_status()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        session.get(url, timeout=30).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    return percentiles(times)


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p99) of request times."""
    ordered = sorted(times)
    return statistics.median(ordered), ordered[round(0.99 * (len(ordered) - 1))]


if __name__ == "__main__":
    main()
