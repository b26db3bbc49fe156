"""Worker throughput, fork floor and pickup latency, ours and RQ's side by side.

Starts its own Redis (redis_runner), then for each system and mode starts idle
worker processes, enqueues 2,000 no-op jobs in one batch and times until all are
processed. Prints one table. Run by ``make bench``; figures go in
docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from redis_runner import RedisServer
from resque_proto import Resque, connect

HERE = Path(__file__).resolve().parent
JOBS = 2000
LATENCY_SAMPLES = 200
QUEUE = "bench"
FORK_FLOOR_IMPORTS = {
    "parent": "import resque_worker.worker, resque_worker.inprocess",  # the worker parent's
    "zygote": "import resque_worker.zygote",  # the fork server's: no redis-py
}
FORK_FLOOR_SCRIPT = """
import os, sys, time
{imports}
import bench_jobs  # noqa: F401
assert {redis_expected} == ("redis" in sys.modules)
n = int(sys.argv[1])
start = time.perf_counter()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
elapsed = time.perf_counter() - start
rss = [l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]
print(n / elapsed, int(rss) / 1024)
"""


def env_for(redis_url: str, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": path, **extra}


def wait_until(predicate: Callable[[], bool], timeout: float = 300.0, poll: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish")
        time.sleep(poll)


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stop(processes: list[subprocess.Popen[bytes]], signum: int = signal.SIGQUIT) -> None:
    for process in processes:
        process.send_signal(signum)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- ours ------------------------------------------------------------------
def our_workers(url: str, count: int, fork: bool, **extra: str) -> list[subprocess.Popen[bytes]]:
    env = env_for(
        url,
        QUEUES=QUEUE,
        RESQUE_JOBS="bench_jobs",
        FORK_PER_JOB="true" if fork else "false",
        RESQUE_LOG_FORMAT="json",
        **extra,
    )
    resque = Resque(connect(url))
    before = len(resque.workers.ids())
    processes = [start([sys.executable, "-m", "resque_worker"], env) for _ in range(count)]
    wait_until(lambda: len(resque.workers.ids()) == before + count)
    return processes


def ours(url: str, workers: int, fork: bool, statuses: bool | None = None) -> float:
    """Jobs/s. ``statuses`` None: Ruby-shaped jobs (no id). True/False: jobs with ids,
    with the workers writing their statuses (docs/protocol.md section 9) or not
    (``RESQUE_STATUS_TTL=0``): the difference is the cost of job status alone."""
    ttl = {} if statuses is None else {"RESQUE_STATUS_TTL": "86400" if statuses else "0"}
    return JOBS / drain(url, workers, fork, JOBS, statuses is not None, **ttl)


def drain(url: str, workers: int, fork: bool, jobs: int, ids: bool, **env: str) -> float:
    """Seconds for fresh idle workers to run ``jobs`` no-op jobs enqueued at once (with
    job ids or not); the workers are stopped before it returns."""
    resque = Resque(connect(url), status_ttl=0)
    resque.redis.flushall()
    processes = our_workers(url, workers, fork, **env)
    try:
        began = time.perf_counter()
        if jobs:
            resque.enqueue_many([(QUEUE, "Noop", [])] * jobs, metadata=ids)
            wait_until(lambda: resque.stats.processed() >= jobs)
        elapsed = time.perf_counter() - began
    finally:
        stop(processes)
    assert resque.failures.count() == 0, "benchmark jobs failed"
    return elapsed


def tree_usage(url: str, fork: bool, jobs: int) -> tuple[float, int]:
    """(CPU seconds, voluntary context switches) of one worker and all its descendants,
    from its start to its exit, having run ``jobs`` no-op jobs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    drain(url, 1, fork, jobs, ids=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu, after.ru_nvcsw - before.ru_nvcsw


def per_job_cost(url: str, fork: bool) -> tuple[float, float]:
    """(CPU ms, voluntary context switches) per job of one worker's process tree: a run
    of JOBS jobs less an idle start and stop. Each switch is a sleep and a wake-up, which
    on a VM costs more than the CPU time shows; unlike jobs/s, both barely depend on
    what else the machine is doing."""
    busy_cpu, busy_switches = tree_usage(url, fork, JOBS)
    idle_cpu, idle_switches = tree_usage(url, fork, 0)
    return (busy_cpu - idle_cpu) / JOBS * 1000, (busy_switches - idle_switches) / JOBS


# -- RQ --------------------------------------------------------------------
def rq_rate(url: str, workers: int, worker_class: str) -> float:
    from rq import Queue, Worker
    from rq.registry import FinishedJobRegistry

    client = redis.Redis.from_url(url)
    client.flushall()
    env = env_for(url)
    command = ["rq", "worker", "-u", url, "-w", worker_class, "-q", QUEUE]
    processes = [start(command, env) for _ in range(workers)]
    try:
        wait_until(lambda: len(Worker.all(connection=client)) == workers)
        queue = Queue(QUEUE, connection=client)
        finished = FinishedJobRegistry(queue=queue)
        began = time.perf_counter()
        queue.enqueue_many([Queue.prepare_data("bench_jobs.noop") for _ in range(JOBS)])
        wait_until(lambda: finished.count >= JOBS, poll=0.01)
        elapsed = time.perf_counter() - began
    finally:
        stop(processes, signal.SIGTERM)  # RQ's warm shutdown
    return JOBS / elapsed


# -- fork floor, latency, memory -----------------------------------------
def fork_floor(kind: str) -> tuple[float, float]:
    """(forks/s, RSS MB) of fork + _exit + waitpid from a process with the imports of the
    worker parent (``kind="parent"``) or of its fork server (``"zygote"``)."""
    script = FORK_FLOOR_SCRIPT.format(
        imports=FORK_FLOOR_IMPORTS[kind], redis_expected=kind == "parent"
    )
    command = [sys.executable, "-c", script, str(JOBS)]
    output = subprocess.run(command, env=env_for(""), capture_output=True, text=True, check=True)
    rate, rss = output.stdout.split()
    return float(rate), float(rss)


def pickup_latency(url: str, fork: bool) -> tuple[float, float]:
    """(p50, p99) seconds from enqueue to job start on an idle worker."""
    resque = Resque(connect(url))
    resque.redis.flushall()
    with tempfile.TemporaryDirectory() as folder:
        samples_file = Path(folder) / "latency"
        processes = our_workers(url, 1, fork, BENCH_LATENCY_FILE=str(samples_file))
        try:
            for n in range(LATENCY_SAMPLES):
                resque.enqueue(QUEUE, "Latency", time.time(), metadata=False)
                wait_until(lambda n=n: resque.stats.processed() > n)  # type: ignore[misc]
                time.sleep(0.01)  # let the worker go idle again
        finally:
            stop(processes)
        samples = sorted(float(line) for line in samples_file.read_text().split())
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def kib(path: str, field: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def running_children(zygote: int) -> list[int]:
    """The zygote's children running a job (not the spare waiting for the next one)."""
    found = []
    for pid in children(zygote):
        try:
            if b"Processing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except FileNotFoundError:
            pass
    return found


def private_mb(pid: int) -> float:
    rollup = f"/proc/{pid}/smaps_rollup"
    return (kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty")) / 1024


def memory(url: str) -> tuple[float, float, float, float, float]:
    """(parent, zygote, child RSS MB, child private MB, waiting spare's private MB) with
    one job running."""
    resque = Resque(connect(url))
    resque.redis.flushall()
    [process] = our_workers(url, 1, fork=True)
    try:
        [zygote] = children(process.pid)
        resque.enqueue(QUEUE, "Hold", 3, metadata=False)
        wait_until(lambda: bool(running_children(zygote)))
        [child] = running_children(zygote)
        time.sleep(0.3)
        rss = [kib(f"/proc/{pid}/status", "VmRSS") for pid in (process.pid, zygote, child)]
        [spare] = [pid for pid in children(zygote) if pid != child]
        private = private_mb(child), private_mb(spare)
    finally:
        stop([process])
    return rss[0] / 1024, rss[1] / 1024, rss[2] / 1024, *private


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(repeats))


def throughput_rows(url: str, repeats: int) -> list[tuple[str, float, float]]:
    """Best of ``repeats`` runs each, interleaved so a busy spell hurts every system alike."""
    systems: list[tuple[str, Callable[[int], float]]] = [
        ("ours, fork per job", lambda n: ours(url, n, True)),
        ("ours, in-process", lambda n: ours(url, n, False)),
        ("ours, fork, ids", lambda n: ours(url, n, True, statuses=False)),
        ("ours, fork, ids+status", lambda n: ours(url, n, True, statuses=True)),
        ("ours, in-proc, ids", lambda n: ours(url, n, False, statuses=False)),
        ("ours, in-proc, ids+status", lambda n: ours(url, n, False, statuses=True)),
        ("RQ Worker (fork)", lambda n: rq_rate(url, n, "rq.Worker")),
        ("RQ SimpleWorker", lambda n: rq_rate(url, n, "rq.SimpleWorker")),
        ("fork floor, parent size", lambda n: fork_floor("parent")[0] if n == 1 else 0.0),
        ("fork floor, zygote size", lambda n: fork_floor("zygote")[0] if n == 1 else 0.0),
    ]
    best: dict[tuple[str, int], float] = {}
    for _ in range(repeats):
        for label, measure in systems:
            for workers in (1, 2):
                rate = measure(workers)
                best[label, workers] = max(best.get((label, workers), 0.0), rate)
    return [(label, best[label, 1], best[label, 2]) for label, _ in systems]


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    with RedisServer() as server:
        url = server.url
        version = redis.Redis.from_url(url).info()["redis_version"]
        print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
              f"Python {platform.python_version()}, Redis {version}, {JOBS} no-op jobs, "
              f"best of {repeats} interleaved runs")  # fmt: skip
        rows = throughput_rows(url, repeats)
        print(f"{'system':<24} {'1 worker':>10} {'2 workers':>10}  (jobs/s)")
        for label, one, two in rows[:-2]:
            print(f"{label:<24} {one:>10.0f} {two:>10.0f}")
        floors = {}
        for (label, floor, _), kind in zip(rows[-2:], ("parent", "zygote"), strict=True):
            floors[kind] = floor
            print(f"{label:<24} {floor:>10.0f} {'':>10}  (fork+exit+waitpid/s, "
                  f"{fork_floor(kind)[1]:.1f} MB process)")  # fmt: skip
        ours_fork, ours_inproc, rq_fork = rows[0][1], rows[1][1], rows[6][1]
        print(f"job status: fork per job {rows[3][1] / rows[2][1]:.0%}, in-process "
              f"{rows[5][1] / rows[4][1]:.0%} of the throughput of the same jobs without "
              "status (target >= 95%)")  # fmt: skip
        print(
            f"fork per job / parent-size floor: {ours_fork / floors['parent']:.0%} "
            "(the old comparison)"
        )
        for label, fork in (("fork per job", True), ("in-process", False)):
            cpu, switches = per_job_cost(url, fork)
            print(f"per job, {label}: worker tree CPU {cpu:.2f} ms, "
                  f"{switches:.1f} voluntary context switches")  # fmt: skip
        latency = {fork: pickup_latency(url, fork) for fork in (True, False)}
        for label, fork in (("fork per job", True), ("in-process", False)):
            p50, p99 = latency[fork]
            print(f"pickup latency, {label}: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
        parent, zygote, child, private, spare = memory(url)
        print(f"memory: parent RSS {parent:.1f} MB; zygote RSS {zygote:.1f} MB; a running "
              f"child RSS {child:.1f} MB, of which private {private:.1f} MB; the waiting "
              f"spare's private {spare:.1f} MB")  # fmt: skip
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        print_targets([
            ("fork per job, 1 worker / zygote-size fork floor", ours_fork / floors["zygote"],
             0.80, ">=", "{:.0%}"),
            ("fork per job, 1 worker / RQ Worker (fork)", ours_fork / rq_fork, 6.0, ">=",
             "{:.1f}x"),
            ("fork per job, 2 workers / 1 worker", rows[0][2] / ours_fork, 1.6, ">=", "{:.2f}x"),
            ("pickup p50, fork per job (ms)", latency[True][0] * 1000, 1.5, "<", "{:.2f}"),
            ("pickup p50, in-process (ms)", latency[False][0] * 1000, 0.5, "<", "{:.2f}"),
            ("in-process, 1 worker (jobs/s)", ours_inproc, 10_000, ">=", "{:.0f}"),
            ("parent RSS (MB)", parent, 25.0, "<=", "{:.1f}"),
            ("a running child's private memory (MB)", private, 2.0, "<=", "{:.1f}"),
        ])  # fmt: skip


Target = tuple[str, float, float, str, str]  # label, value, goal, comparison, value format


def print_targets(targets: list[Target]) -> None:
    """One line per issue #12 target: the figure, the goal and met / NOT MET."""
    compare = {">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}
    print("targets (issue #12):")
    for label, value, goal, comparison, form in targets:
        met = compare[comparison](float(value), float(goal))
        print(f"  {label:<50} {form.format(value):>8}  (target {comparison} "
              f"{form.format(goal)}) {'met' if met else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
