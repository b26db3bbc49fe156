"""Delayed and recurring jobs through the real containers: the enqueuer files a
job for later, resque-scheduler (two replicas, one leader) moves it when due, a
worker runs it. Also jobs written in resque-scheduler's Redis layout the way
Ruby writes them, the leader lock changing hands when the leader dies or stops,
and the recurring schedule of the e2e schedule file.

Outcomes are polled for; the only clock readings are the "not before" checks.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from typing import Any

import yaml
from docker.models.containers import Container
from e2e_support.polling import wait_for
from e2e_support.stack import SCHEDULE_FILE, Stack

LOCK_TIMEOUT = 5  # RESQUE_SCHEDULER_LOCK_TIMEOUT in compose.e2e.yaml
SCHEDULERS = 2  # `scale` of the scheduler service in compose.yaml
RECURRING = "e2e_every_5s"  # the entry of schedule.e2e.yaml
RECURRING_REPO = 5
RECURRING_PERIOD = 5.0


def new_repo_id() -> int:
    return random.randrange(10**6, 10**9)


def ruby_payload(class_name: str, args: list[Any], queue: str) -> str:
    """resque-scheduler's job_to_hash_with_queue, as Ruby's JSON writes it."""
    return json.dumps({"class": class_name, "args": args, "queue": queue}, separators=(",", ":"))


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def two_healthy_schedulers(stack: Stack) -> list[Container]:
    """Both scheduler replicas running and healthy (restarting any the last test stopped)."""
    for container in stack.containers("scheduler", stopped=True):
        if container.status != "running":
            container.start()

    def all_healthy() -> list[Container]:
        found = stack.healthy("scheduler")
        return found if len(found) == SCHEDULERS else []

    healthy: list[Container] = wait_for(
        all_healthy, timeout=90, what=f"{SCHEDULERS} healthy scheduler containers"
    )
    return healthy


def leader_and_standby(stack: Stack) -> tuple[Container, Container]:
    schedulers = two_healthy_schedulers(stack)
    holder = wait_for(stack.scheduler_leader, timeout=LOCK_TIMEOUT * 3, what="a leader")
    host = holder.split(":")[0]
    by_host = {c.attrs["Config"]["Hostname"]: c for c in schedulers}
    assert host in by_host, f"the lock {holder!r} is held by none of {sorted(by_host)}"
    (standby,) = [c for h, c in by_host.items() if h != host]
    return by_host[host], standby


def held_by(stack: Stack, container: Container) -> str | None:
    holder = stack.scheduler_leader()
    if holder and holder.split(":")[0] == container.attrs["Config"]["Hostname"]:
        return str(holder)
    return None


def test_job_posted_with_a_delay_runs_when_due_and_not_before(eight_workers: Stack) -> None:
    stack = eight_workers
    repo_id = new_repo_id()
    posted = time.time()
    answer = stack.enqueue("e2e_delayed", "Archive", [repo_id], delay_seconds=2)
    due = epoch(answer["scheduled_for"])
    # Filed under the whole second at or after "now + 2 s": never early.
    assert posted + 2 - 0.05 <= due <= time.time() + 3, (posted, answer["scheduled_for"])

    # Until it is due: waiting in the delayed schedule, not on its queue, not run.
    while time.time() < due - 0.3:
        assert stack.runs_of("Archive", repo_id) == 0, "ran before it was due"
        assert stack.resque.queues.size("e2e_delayed") == 0, "on its queue before it was due"
        time.sleep(0.1)
    wait_for(
        lambda: stack.runs_of("Archive", repo_id) == 1,
        timeout=30,
        interval=0.1,
        what="the delayed job to run",
    )
    ran_by = time.time()
    assert ran_by >= due
    assert ran_by - due < 5, f"ran {ran_by - due:.1f} s after it was due"
    assert stack.failures_for("e2e_delayed") == []


def test_job_written_in_resque_schedulers_layout_is_moved_and_run(eight_workers: Stack) -> None:
    """What Ruby's Resque.enqueue_at writes: RPUSH, SADD, ZADD, byte for byte."""
    stack = eight_workers
    redis = stack.resque.redis
    repo_id = new_repo_id()
    ts = int(redis.time()[0]) + 2
    payload = ruby_payload("Archive", [repo_id, "masterbrew"], "e2e_ruby_delayed")
    with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(f"resque:delayed:{ts}", payload)
        pipe.sadd(f"resque:timestamps:{payload}", f"delayed:{ts}")
        pipe.zadd("resque:delayed_queue_schedule", {str(ts): ts})
        pipe.execute()

    wait_for(
        lambda: stack.runs_of("Archive", repo_id) == 1,
        timeout=30,
        what="the Ruby-written delayed job to run",
    )
    (run,) = [e for e in stack.effects("Archive") if e.get("repo_id") == repo_id]
    assert run["branch"] == "masterbrew"
    # The move cleaned up after itself as resque-scheduler does.
    assert not redis.exists(f"resque:delayed:{ts}")
    assert not redis.exists(f"resque:timestamps:{payload}")
    assert redis.zscore("resque:delayed_queue_schedule", str(ts)) is None
    assert b"e2e_ruby_delayed" in redis.smembers("resque:queues")
    assert stack.failures_for("e2e_ruby_delayed") == []


def test_one_scheduler_leads_and_the_other_takes_over_when_it_is_killed(stack: Stack) -> None:
    leader, standby = leader_and_standby(stack)
    holder = stack.scheduler_leader()
    # Exactly one holder, and it keeps the lock (renewing it) while it lives.
    deadline = time.monotonic() + LOCK_TIMEOUT + 2
    while time.monotonic() < deadline:
        assert stack.scheduler_leader() == holder, "the lock changed hands without a failure"
        time.sleep(0.25)

    killed = time.monotonic()
    leader.kill()  # SIGKILL: no release, the lock must expire
    new_holder = wait_for(
        lambda: held_by(stack, standby),
        timeout=LOCK_TIMEOUT * 4,
        interval=0.1,
        what="the standby to take the leader lock",
    )
    took = time.monotonic() - killed
    # The lock outlives its holder by at most the timeout; the standby tries
    # again every third of it.
    assert took <= LOCK_TIMEOUT + LOCK_TIMEOUT / 3 + 1, f"took over after {took:.1f} s"
    leader.reload()
    assert leader.status != "running", "the killed leader came back by itself"
    assert new_holder != holder

    # The survivor moves delayed jobs on its own.
    repo_id = new_repo_id()
    stack.enqueue("e2e_takeover", "Archive", [repo_id], delay_seconds=1)
    wait_for(lambda: stack.runs_of("Archive", repo_id) == 1, timeout=30, what="a delayed job")

    leader.start()
    two_healthy_schedulers(stack)
    time.sleep(1)
    assert held_by(stack, standby), "the restarted replica must not take a held lock"


def test_a_stopped_leader_hands_over_at_once(stack: Stack) -> None:
    """`docker stop` (TERM): out within a second or two, lock released, so the
    standby leads well before the lock would have expired."""
    leader, standby = leader_and_standby(stack)
    stopped = time.monotonic()
    leader.stop(timeout=10)
    stop_took = time.monotonic() - stopped
    leader.reload()
    assert leader.attrs["State"]["ExitCode"] == 0
    assert stop_took < 5, f"the scheduler took {stop_took:.1f} s to stop"
    wait_for(
        lambda: held_by(stack, standby),
        timeout=LOCK_TIMEOUT * 4,
        interval=0.1,
        what="the standby to take the released lock",
    )
    took = time.monotonic() - stopped
    assert took < LOCK_TIMEOUT, f"took over after {took:.1f} s: the lock was not released"
    leader.start()
    two_healthy_schedulers(stack)


def test_recurring_schedule_is_loaded_and_fires_once_per_period(eight_workers: Stack) -> None:
    stack = eight_workers
    two_healthy_schedulers(stack)
    redis = stack.resque.redis
    definition = yaml.safe_load(SCHEDULE_FILE.read_text())[RECURRING]
    stored = wait_for(
        lambda: redis.hget("resque:schedules", RECURRING),
        timeout=30,
        what="the schedule file loaded into resque:schedules",
    )
    assert json.loads(stored)["every"] == definition["every"]

    wait_for(
        lambda: stack.runs_of("Archive", RECURRING_REPO) >= 1,
        timeout=RECURRING_PERIOD * 4,
        what="the recurring job to run",
    )
    window = RECURRING_PERIOD * 4
    before = stack.runs_of("Archive", RECURRING_REPO)
    time.sleep(window)  # counting periods: the one place a fixed wait is the point
    wait_for(lambda: stack.resque.queues.size("e2e_recurring") == 0, timeout=15, what="drained")
    runs = stack.runs_of("Archive", RECURRING_REPO) - before
    periods = window / RECURRING_PERIOD
    # Once per period although two schedulers run (a double firing would give ~8).
    assert periods - 1 <= runs <= periods + 1, f"{runs} runs in {periods:.0f} periods"
    assert redis.hget("resque:delayed:last_enqueued_at", RECURRING)


def test_frontend_metrics_show_the_leader_and_the_delayed_jobs(stack: Stack) -> None:
    redis = stack.resque.redis
    leader, _ = leader_and_standby(stack)
    ts = int(redis.time()[0]) + 3600
    payload = ruby_payload("Archive", [new_repo_id()], "e2e_metrics")
    with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(f"resque:delayed:{ts}", payload)
        pipe.sadd(f"resque:timestamps:{payload}", f"delayed:{ts}")
        pipe.zadd("resque:delayed_queue_schedule", {str(ts): ts})
        pipe.execute()
    try:
        wait_for(
            lambda: stack.metric("resque_delayed_jobs") >= 1,
            timeout=15,
            what="resque_delayed_jobs to count the job",
        )
        holder = stack.scheduler_leader()
        leaders = [labels for labels, value in stack.samples("resque_scheduler_leader") if value]
        assert leaders == [{"scheduler": holder}], (leaders, holder)
        assert held_by(stack, leader)
    finally:
        with redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"resque:delayed:{ts}", f"resque:timestamps:{payload}")
            pipe.zrem("resque:delayed_queue_schedule", str(ts))
            pipe.execute()
