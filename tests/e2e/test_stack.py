"""The whole system in containers: `compose up --scale worker=8`, then real signals.

Each test starts from 8 idle registered workers (the ``eight_workers`` fixture)
and uses its own queue and repository ids, so the tests do not see each
other's jobs. Outcomes are polled for, never timed.
"""

from __future__ import annotations

import random
import re
import threading
import time

import redis
import requests
from e2e_support.polling import wait_for
from e2e_support.stack import TOKEN, Stack

from resque_proto.workers import WorkerInfo

SLOW = 8  # seconds a SlowArchive takes: long enough to signal it mid-run
BLOCKER = 20  # seconds the other workers stay busy while one is being tested


def new_repo_id() -> int:
    return random.randrange(10**6, 10**9)


def slow_job_in_hand(stack: Stack, queue: str, seconds: float) -> tuple[int, WorkerInfo]:
    """Enqueue a SlowArchive and return (repo_id, the worker running it)."""
    repo_id = new_repo_id()
    stack.enqueue(queue, "SlowArchive", [seconds, repo_id])
    worker = wait_for(
        lambda: stack.worker_running(repo_id), timeout=30, what=f"a worker taking {repo_id}"
    )
    return repo_id, worker


def test_enqueued_job_runs_and_is_counted(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id = new_repo_id()
    stored = stack.enqueue("file_serve", "Archive", [repo_id])
    assert stored["class"] == "Archive" and stored["args"] == [repo_id]

    wait_for(lambda: stack.runs_of("Archive", repo_id) == 1, timeout=30, what="Archive to run")
    # The child writes the effect before the parent acknowledges the job.
    processed = wait_for(stack.resque.stats.processed, timeout=15, what="stat:processed")
    wait_for(
        lambda: stack.metric("resque_jobs_processed_total") >= processed,
        timeout=15,
        what="/metrics to count the job",
    )
    shown = re.search(r"processed</th>\s*<td[^>]*>([\d,]+)<", stack.page("/stats"))
    assert shown is not None, "the stats page shows a processed count"
    assert int(shown.group(1).replace(",", "")) >= processed


def test_exactly_eight_workers_registered_and_listed(eight_workers: Stack) -> None:
    stack = eight_workers
    ids = stack.resque.workers.ids()
    assert len(ids) == 8
    assert {w.host for w in stack.resque.workers.all()} == stack.worker_hostnames()
    page = stack.page("/workers")
    for worker_id in ids:
        assert worker_id in page


def test_quit_finishes_the_job_then_exits_zero(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id, worker = slow_job_in_hand(stack, "e2e_quit", SLOW)
    container = stack.container_of(worker)
    container.kill(signal="SIGQUIT")

    result = container.wait(timeout=SLOW + 60)
    assert result["StatusCode"] == 0
    assert stack.runs_of("SlowArchive", repo_id) == 1
    assert worker.id not in stack.resque.workers.ids()
    assert stack.failures_for("e2e_quit") == []
    assert stack.resque.queues.size("e2e_quit") == 0


def test_term_requeues_the_job_for_another_worker(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id, first = slow_job_in_hand(stack, "e2e_term", SLOW)
    container = stack.container_of(first)
    container.kill(signal="SIGTERM")

    container.wait(timeout=60)
    second = wait_for(
        lambda: stack.worker_running(repo_id, besides=first.id),
        timeout=30,
        what="another worker to take the requeued job",
    )
    assert second.host != first.host
    wait_for(
        lambda: stack.runs_of("SlowArchive", repo_id) == 1,
        timeout=SLOW + 30,
        what="the requeued job to finish",
    )
    assert first.id not in stack.resque.workers.ids()
    assert stack.failures_for("e2e_term") == []


def test_usr1_fails_the_job_and_the_worker_goes_on(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id, target = slow_job_in_hand(stack, "e2e_usr1", 120)
    # Keep the 7 other workers busy so the next job can only go to the target.
    blockers = [new_repo_id() for _ in range(7)]
    for blocker in blockers:
        stack.enqueue("e2e_usr1_blockers", "SlowArchive", [BLOCKER, blocker])
    wait_for(
        lambda: all(stack.worker_running(b) for b in blockers),
        timeout=30,
        what="the other 7 workers to be busy",
    )

    container = stack.container_of(target)
    container.kill(signal="SIGUSR1")
    failure = wait_for(
        lambda: stack.failures_for("e2e_usr1"), timeout=30, what="a failure record for the job"
    )[0]
    assert failure.payload["args"] == [120, repo_id]
    assert failure.worker == target.id

    follow_up = new_repo_id()
    stack.enqueue("e2e_usr1", "Archive", [follow_up])
    wait_for(lambda: stack.runs_of("Archive", follow_up) == 1, timeout=30, what="the next job")
    container.reload()
    assert container.status == "running"
    assert target.id in stack.resque.workers.ids()
    assert stack.resque.stats.processed(target.id) >= 2  # the failed job and the next one
    assert stack.runs_of("SlowArchive", repo_id) == 0


def test_kill_job_is_recovered_by_another_worker(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id, victim = slow_job_in_hand(stack, "e2e_kill", SLOW)
    container = stack.container_of(victim)
    container.kill(signal="SIGKILL")
    container.wait(timeout=30)

    rescuer = wait_for(
        lambda: stack.worker_running(repo_id, besides=victim.id),
        timeout=90,
        what="the pruner to hand the job to another worker",
    )
    assert rescuer.host != victim.host
    wait_for(
        lambda: stack.runs_of("SlowArchive", repo_id) == 1,
        timeout=SLOW + 30,
        what="the recovered job to finish",
    )
    assert victim.id not in stack.resque.workers.ids()
    assert stack.failures_for("e2e_kill") == []


def test_restarted_container_recovers_the_job_its_previous_life_held(
    eight_workers: Stack,
) -> None:
    """A crashed worker restarted by Docker keeps its hostname and pid, hence its id."""
    stack = eight_workers
    repo_id, victim = slow_job_in_hand(stack, "e2e_restart", SLOW)
    container = stack.container_of(victim)
    container.kill(signal="SIGKILL")
    container.wait(timeout=30)
    container.start()  # what `restart: unless-stopped` does after a crash

    wait_for(
        lambda: stack.runs_of("SlowArchive", repo_id) == 1,
        timeout=SLOW + 60,
        what="the job held by the killed worker to run again",
    )
    assert stack.failures_for("e2e_restart") == []
    # Same hostname; the pid (hence the id) is often the same too.
    wait_for(
        lambda: any(w.host == victim.host for w in stack.resque.workers.all()),
        timeout=30,
        what="the restarted container to register",
    )
    wait_for(
        lambda: stack.worker_running(repo_id) is None,
        timeout=30,
        what="no worker still showing the finished job",
    )


def test_scale_down_drains_running_jobs(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_ids = [new_repo_id() for _ in range(8)]
    for repo_id in repo_ids:
        stack.enqueue("e2e_scale", "SlowArchive", [SLOW, repo_id])
    wait_for(
        lambda: all(stack.worker_running(r) for r in repo_ids),
        timeout=30,
        what="all 8 workers running a slow job",
    )
    since = int(time.time()) - 1

    stack.up(2)  # Compose stops 6 workers with their STOPSIGNAL, SIGQUIT

    wait_for(
        lambda: all(stack.runs_of("SlowArchive", r) == 1 for r in repo_ids),
        timeout=SLOW + 30,
        what="all 8 jobs to finish",
    )
    assert stack.failures_for("e2e_scale") == []
    assert stack.resque.queues.size("e2e_scale") == 0
    assert stack.worker_exit_codes(since) == [0] * 6
    wait_for(
        lambda: len(stack.resque.workers.ids()) == 2,
        timeout=30,
        what="2 registered workers after the scale-down",
    )


def test_compose_stop_drains_every_worker(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_ids = [new_repo_id() for _ in range(8)]
    for repo_id in repo_ids:
        stack.enqueue("e2e_stop", "SlowArchive", [SLOW, repo_id])
    wait_for(
        lambda: all(stack.worker_running(r) for r in repo_ids),
        timeout=30,
        what="all 8 workers running a slow job",
    )
    since = int(time.time()) - 1

    stack.compose.run("stop")  # workers first (SIGQUIT, they drain), Redis last

    assert [stack.runs_of("SlowArchive", r) for r in repo_ids] == [1] * 8
    assert stack.worker_exit_codes(since) == [0] * 8
    stack.up(8)  # the same containers again; Redis reloads its AOF
    assert wait_for(
        lambda: stack.resque.stats.processed() > 0,
        timeout=30,
        what="Redis back with its data",
        ignore=(redis.ConnectionError,),
    )
    assert stack.failures_for("e2e_stop") == []
    assert stack.resque.queues.size("e2e_stop") == 0


def test_redis_restart_loses_no_acknowledged_job(eight_workers: Stack) -> None:
    stack = eight_workers
    acknowledged: list[int] = []
    unexpected: list[tuple[int, str]] = []
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            repo_id = new_repo_id()
            try:
                response = requests.post(
                    f"{stack.enqueuer_url}/jobs",
                    json={"queue": "e2e_redis", "class": "Archive", "args": [repo_id]},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=5,
                )
            except requests.RequestException:
                continue
            if response.status_code == 202:
                acknowledged.append(repo_id)
            elif response.status_code == 503:  # Redis down: not acknowledged, retry
                time.sleep(0.1)
            else:
                unexpected.append((response.status_code, response.text[:300]))
                return

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        wait_for(lambda: len(acknowledged) >= 20 or unexpected, timeout=60, what="jobs flowing")
        (redis_container,) = stack.containers("redis")
        redis_container.restart(timeout=10)
        after_restart = len(acknowledged)
        wait_for(
            lambda: len(acknowledged) >= after_restart + 20 or unexpected,
            timeout=90,
            what="the enqueuer to accept jobs again",
        )
    finally:
        stop.set()
        producer.join(timeout=30)
    assert unexpected == [], "the enqueuer answers 202 or 503, nothing else"

    done = {line["repo_id"] for line in stack.effects("Archive")}
    wait_for(
        lambda: not (set(acknowledged) - {line["repo_id"] for line in stack.effects("Archive")}),
        timeout=120,
        what=f"all {len(acknowledged)} acknowledged jobs to run (ran {len(done)} so far)",
        ignore=(redis.ConnectionError,),
    )
    wait_for(
        lambda: len(stack.resque.workers.ids()) == 8,
        timeout=60,
        what="all 8 workers registered after the restart",
        ignore=(redis.ConnectionError,),
    )
    assert requests.get(f"{stack.enqueuer_url}/readyz", timeout=5).status_code == 200
