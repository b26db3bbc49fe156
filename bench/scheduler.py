"""Delayed jobs: our scheduler against RQ's, side by side, on one fresh Redis each.

Two figures (docs/benchmarks.md):

- **Move all due**: 100,000 jobs already due, moved onto their queue. Ours is the
  scheduler's own loop (``Delayed.move_due`` until nothing is due: one Lua call
  per 1,000 jobs); RQ's is ``RQScheduler.enqueue_scheduled_jobs`` called back to
  back (RQ's own loop sleeps its 1 s interval between 1,000-job chunks, so in
  production it is slower still).
- **Due-to-enqueued lag** at 1,000 jobs falling due per second for 10 s, with the
  real scheduler process running (``resque-scheduler``; RQ's ``RQScheduler.work``
  at its default 1 s interval). A consumer pops each job as soon as it is on the
  queue and records how long after its due second that was.

Run with ``make bench`` or ``uv run python bench/scheduler.py``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from rq import Queue
from rq.scheduler import RQScheduler

from redis_runner import RedisServer
from resque_proto import Resque, connect
from resque_proto.delayed_payload import encode_delayed_payload

RQ_FUNCTION = "math.sqrt"  # RQ refuses __main__ functions; never run here, only enqueued
QUEUE = "bench"


# -- moving every due job ---------------------------------------------------------
def ours_move_all(url: str, count: int) -> float:
    resque = Resque(connect(url, socket_timeout=60), "resque")
    due = int(time.time()) - 10
    entries = [(due + n % 10, encode_delayed_payload(QUEUE, "Archive", [n])) for n in range(count)]
    for start in range(0, count, 10_000):
        resque.delayed.schedule(entries[start : start + 10_000])
    began = time.perf_counter()
    while resque.delayed.move_due().full_batch:
        pass
    elapsed = time.perf_counter() - began
    assert resque.redis.llen(f"resque:queue:{QUEUE}") == count
    return elapsed


def rq_move_all(url: str, count: int) -> float:
    client = redis.Redis.from_url(url, socket_timeout=60)
    queue = Queue(QUEUE, connection=client)
    due = datetime.fromtimestamp(time.time() - 10, UTC)
    for start in range(0, count, 1_000):
        with client.pipeline() as pipe:
            for n in range(start, start + 1_000):
                queue.enqueue_at(due, RQ_FUNCTION, n, pipeline=pipe)
            pipe.execute()
    scheduler = RQScheduler([QUEUE], connection=client)
    scheduler.acquire_locks()  # type: ignore[no-untyped-call]
    began = time.perf_counter()
    while queue.scheduled_job_registry.count:
        scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
    elapsed = time.perf_counter() - began
    assert queue.count == count
    return elapsed


# -- lag at a steady rate ---------------------------------------------------------
def collect_lags(
    client: redis.Redis, key: str, due_of: Callable[[bytes], int], total: int
) -> list[float]:
    """Pop every job as it lands; its lag is arrival minus its due second."""
    lags: list[float] = []
    while len(lags) < total:
        first = client.blpop([key], timeout=30)
        if first is None:
            raise RuntimeError(f"only {len(lags)} of {total} jobs arrived")
        arrived = time.time()
        batch = [first[1], *(client.lpop(key, 10_000) or [])]
        lags.extend(arrived - due_of(item) for item in batch)
    return lags


def ours_lags(url: str, per_second: int, seconds: int) -> list[float]:
    client = connect(url, socket_timeout=60)
    resque = Resque(client, "resque")
    env = {**os.environ, "REDIS_URL": url, "RESQUE_LOG_FORMAT": "text"}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "resque_scheduler"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        first_due = int(time.time()) + 3
        entries = [
            (first_due + s, encode_delayed_payload(QUEUE, "Archive", [first_due + s, n]))
            for s in range(seconds)
            for n in range(per_second)
        ]
        resque.delayed.schedule(entries)
        return collect_lags(
            client,
            f"resque:queue:{QUEUE}",
            lambda job: int(json.loads(job)["args"][0]),
            per_second * seconds,
        )
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(10)


def run_rq_scheduler(url: str) -> None:
    scheduler = RQScheduler([QUEUE], connection=redis.Redis.from_url(url))
    scheduler.acquire_locks()  # type: ignore[no-untyped-call]
    scheduler.work()  # type: ignore[no-untyped-call]


def rq_lags(url: str, per_second: int, seconds: int) -> list[float]:
    client = redis.Redis.from_url(url, socket_timeout=60)
    queue = Queue(QUEUE, connection=client)
    scheduler = multiprocessing.get_context("fork").Process(target=run_rq_scheduler, args=(url,))
    scheduler.start()
    try:
        first_due = int(time.time()) + 3
        for s in range(seconds):
            due = first_due + s
            with client.pipeline() as pipe:
                for n in range(per_second):
                    queue.enqueue_at(
                        datetime.fromtimestamp(due, UTC), RQ_FUNCTION, n,
                        job_id=f"lag-{due}-{n}", pipeline=pipe,
                    )  # fmt: skip
                pipe.execute()
        return collect_lags(
            client,
            f"rq:queue:{QUEUE}",
            lambda job_id: int(job_id.split(b"-")[1]),
            per_second * seconds,
        )
    finally:
        scheduler.terminate()
        scheduler.join(10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fresh(action: Callable[[str], object]) -> object:
    with RedisServer() as server:
        return action(server.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs for the move-all figure")
    parser.add_argument("--rate", type=int, default=1_000, help="jobs due per second")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of steady load")
    options = parser.parse_args()

    ours = float(fresh(lambda url: ours_move_all(url, options.jobs)))  # type: ignore[arg-type]
    theirs = float(fresh(lambda url: rq_move_all(url, options.jobs)))  # type: ignore[arg-type]
    print(f"move {options.jobs:,} due jobs: ours {ours:.2f} s ({options.jobs / ours:,.0f} jobs/s), "
          f"RQ {theirs:.2f} s ({options.jobs / theirs:,.0f} jobs/s); ours/RQ speed "
          f"{theirs / ours:.1f}x")  # fmt: skip

    load = (options.rate, options.seconds)
    ours_lag: list[float] = fresh(lambda url: ours_lags(url, *load))  # type: ignore[assignment]
    rq_lag: list[float] = fresh(lambda url: rq_lags(url, *load))  # type: ignore[assignment]
    print(f"lag at {options.rate:,} jobs due/s for {options.seconds} s "
          "(due second to on the queue, ms):")  # fmt: skip
    for name, lags in (("ours", ours_lag), ("RQ", rq_lag)):
        print(f"  {name:<5} p50 {percentile(lags, 0.5) * 1e3:7.1f}  "
              f"p99 {percentile(lags, 0.99) * 1e3:7.1f}  max {max(lags) * 1e3:7.1f}  "
              f"mean {statistics.fmean(lags) * 1e3:7.1f}")  # fmt: skip
    print(f"  ratio RQ/ours: p50 {percentile(rq_lag, 0.5) / percentile(ours_lag, 0.5):.1f}x, "
          f"p99 {percentile(rq_lag, 0.99) / percentile(ours_lag, 0.99):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
