"""Recurring schedules run by real scheduler processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from scheduler_harness import StartScheduler

from redis_runner.polling import wait_for
from resque_proto import Resque


def jobs_and_period(client: redis.Redis) -> tuple[int, float]:
    """How many ticks are queued and the last period fired, read in one transaction."""
    pipe = client.pipeline(transaction=True)
    pipe.llen("resque:queue:clock")
    pipe.hget("resque:pyresque:schedule:fired", "tick")
    count, period = pipe.execute()
    return int(count), float(period or 0)


def test_two_replicas_fire_each_period_exactly_once(
    resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    resque.schedules.put("tick", {"cron": "*/2 * * * * *", "class": "Tick", "queue": "clock"})
    replicas = [start_scheduler(), start_scheduler()]
    wait_for(lambda: redis_client.llen("resque:queue:clock"), timeout=10, what="a first tick")
    first_jobs, first_period = jobs_and_period(redis_client)
    time.sleep(7)
    for replica in replicas:
        replica.signal(signal.SIGTERM)
        assert replica.wait(10) == 0
    last_jobs, last_period = jobs_and_period(redis_client)
    periods = round((last_period - first_period) / 2)
    assert periods >= 2
    assert last_jobs - first_jobs == periods  # one job per period, never two
    jobs = [json.loads(job) for job in redis_client.lrange("resque:queue:clock", 0, -1)]
    assert {(job["class"], tuple(job["args"])) for job in jobs} == {("Tick", ())}
    assert len({job["id"] for job in jobs}) == last_jobs
    assert redis_client.hexists("resque:delayed:last_enqueued_at", "tick")


def test_the_schedule_file_is_loaded_into_redis_and_its_removed_entries_deleted(
    resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis, tmp_path: Path
) -> None:
    resque.schedules.put("by_hand", {"every": "1h", "class": "Manual", "queue": "q"})
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        "clean_up:\n  every: 1h\n  class: CleanUp\n  queue: maintenance\n  args: [7]\n"
        "  description: hourly clean-up\n"
        "report:\n  cron: '0 3 * * *'\n  class: Report\n  queue: reports\n"
    )
    first = start_scheduler(RESQUE_SCHEDULE=str(schedule))
    wait_for(lambda: redis_client.hlen("resque:schedules") == 3, what="the file's entries")
    stored = json.loads(redis_client.hget("resque:schedules", "clean_up") or b"")
    assert stored == {
        "every": "1h", "class": "CleanUp", "queue": "maintenance", "args": [7],
        "description": "hourly clean-up",
    }  # fmt: skip
    first.signal(signal.SIGTERM)
    first.wait()

    schedule.write_text("report:\n  cron: '0 3 * * *'\n  class: Report\n  queue: reports\n")
    start_scheduler(RESQUE_SCHEDULE=str(schedule))
    wait_for(lambda: not redis_client.hexists("resque:schedules", "clean_up"), what="removal")
    assert sorted(redis_client.hkeys("resque:schedules")) == [b"by_hand", b"report"]


def test_a_schedule_added_at_run_time_is_picked_up(
    resque: Resque, start_scheduler: StartScheduler, redis_client: redis.Redis
) -> None:
    scheduler = start_scheduler()
    wait_for(lambda: scheduler.logged("became the leader: running recurring schedules"))
    resque.schedules.put("every_second", {"every": "1s", "class": "Beat", "queue": "beats"})
    wait_for(lambda: redis_client.llen("resque:queue:beats") >= 2, timeout=10, what="beats")


def test_a_bad_schedule_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text("broken:\n  cron: 'every tuesday'\n  class: X\n  queue: q\n")
    done = subprocess.run(
        [sys.executable, "-m", "resque_scheduler", "--schedule", str(schedule)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"resque-scheduler: {schedule}: broken: cron: 'every tuesday' is not a valid cron line"
    ]
