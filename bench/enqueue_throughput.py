"""Enqueue throughput of resque_proto against RQ, side by side, on one fresh Redis.

Prints jobs/s for single pushes (one round trip each) and for batches, and the
ratio ours / RQ. Run with ``make bench`` or ``uv run python bench/enqueue_throughput.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import redis
from rq import Queue

from redis_runner import RedisServer
from resque_proto import Resque, connect

RQ_FUNCTION = "math.sqrt"  # RQ refuses __main__ functions; never run here, only enqueued


def rate(count: int, action: Callable[[int], None]) -> float:
    began = time.perf_counter()
    action(count)
    return count / (time.perf_counter() - began)


def ours_single(resque: Resque) -> Callable[[int], None]:
    def run(count: int) -> None:
        for n in range(count):
            resque.enqueue("bench", "Archive", n)

    return run


def ours_batch(resque: Resque, size: int) -> Callable[[int], None]:
    def run(count: int) -> None:
        for start in range(0, count, size):
            resque.enqueue_many(("bench", "Archive", [n]) for n in range(start, start + size))

    return run


def rq_single(queue: Queue) -> Callable[[int], None]:
    def run(count: int) -> None:
        for n in range(count):
            queue.enqueue(RQ_FUNCTION, n)

    return run


def rq_batch(queue: Queue, size: int) -> Callable[[int], None]:
    def run(count: int) -> None:
        for start in range(0, count, size):
            queue.enqueue_many(
                [Queue.prepare_data(RQ_FUNCTION, (n,)) for n in range(start, start + size)]
            )

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    options = parser.parse_args()
    with RedisServer() as server:
        resque = Resque(connect(server.url))
        queue = Queue("bench", connection=redis.Redis.from_url(server.url))
        rows = [
            ("single push", rate(options.jobs, ours_single(resque)),
             rate(options.jobs, rq_single(queue))),
            (f"batches of {options.batch}", rate(options.jobs, ours_batch(resque, options.batch)),
             rate(options.jobs, rq_batch(queue, options.batch))),
        ]  # fmt: skip
    print(f"enqueue, {options.jobs} jobs, one client, Redis on loopback")
    print(f"{'mode':<20}{'resque-py jobs/s':>18}{'RQ jobs/s':>12}{'ratio':>8}")
    for mode, ours, theirs in rows:
        print(f"{mode:<20}{ours:>18,.0f}{theirs:>12,.0f}{ours / theirs:>7.1f}x")


if __name__ == "__main__":
    main()
