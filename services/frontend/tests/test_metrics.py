"""/metrics: every family checked value by value against a known Redis state."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from flask.testing import FlaskClient
from frontend_testkit import RUBY_DELAYED, RUBY_WORKER, schedule_raw, seed_ruby
from prometheus_client.parser import text_string_to_metric_families

from redis_runner.server import RedisServer
from resque_frontend.app import create_app
from resque_frontend.config import Settings
from resque_proto import Resque, connect
from resque_proto.histogram import BUCKETS
from resque_proto.jobs import RetryLater
from resque_proto.leader import LeaderLock
from resque_proto.payload import decode_payload
from resque_proto.retry import retry_payload

FAMILIES = {
    "resque_queue_jobs": "gauge",
    "resque_queue_latency_seconds": "gauge",
    "resque_queue_paused": "gauge",
    "resque_workers": "gauge",
    "resque_jobs_processed": "counter",
    "resque_jobs_failed": "counter",
    "resque_job_retries": "counter",
    "resque_failed_jobs": "gauge",
    "resque_failed_queue_jobs": "gauge",
    "resque_job_duration_seconds": "histogram",
    "resque_delayed_jobs": "gauge",
    "resque_delayed_timestamps": "gauge",
    "resque_delayed_oldest_overdue_seconds": "gauge",
    "resque_schedule_lag_seconds": "histogram",
    "resque_scheduler_leader": "gauge",
    "resque_up": "gauge",
    "resque_build_info": "gauge",
    "resque_redis_command_refused": "gauge",
}


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def family_types(client: FlaskClient) -> dict[str, str]:
    body = client.get("/metrics").get_data(as_text=True)
    return {f.name: f.type for f in text_string_to_metric_families(body)}


def test_every_family_has_its_contract_name_and_type(client: FlaskClient) -> None:
    assert family_types(client) == FAMILIES


def test_values_match_a_known_redis_state(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)  # 3 Ruby jobs on file_serve, a busy Ruby worker, 2 records
    for n in range(4):
        resque.enqueue("high", "Archive", n)
    resque.workers.register("ours:10:high")
    for duration in (0.0005, 0.003, 0.003, 42.0):
        reserved = resque.jobs.reserve("ours:10:high", ["high"])
        assert reserved is not None
        resque.jobs.finish("ours:10:high", reserved, duration)
    resque.enqueue("high", "Archive", 4)

    values = scrape(client)

    assert values[("resque_queue_jobs", (("queue", "file_serve"),))] == 3
    assert values[("resque_queue_jobs", (("queue", "high"),))] == 1
    # Ruby's payloads carry no enqueue time: latency unknown, so no sample.
    assert ("resque_queue_latency_seconds", (("queue", "file_serve"),)) not in values
    high_latency = values[("resque_queue_latency_seconds", (("queue", "high"),))]
    assert 0 <= high_latency < 60
    assert values[("resque_workers", (("state", "busy"),))] == 1  # the Ruby worker
    assert values[("resque_workers", (("state", "idle"),))] == 1  # ours, finished
    assert values[("resque_jobs_processed_total", ())] == 22 + 4
    assert values[("resque_jobs_failed_total", ())] == 2
    assert values[("resque_failed_jobs", ())] == 2
    high = (("le", "+Inf"), ("queue", "high"))
    assert values[("resque_job_duration_seconds_bucket", high)] == 4
    expected = {0.001: 1, 0.0025: 1, 0.005: 3, 30.0: 3, 60.0: 4}
    for bound, count in expected.items():
        assert bound in BUCKETS
        key = ("resque_job_duration_seconds_bucket", (("le", repr(bound)), ("queue", "high")))
        assert values[key] == count, bound
    assert values[("resque_job_duration_seconds_count", (("queue", "high"),))] == 4
    total = values[("resque_job_duration_seconds_sum", (("queue", "high"),))]
    assert abs(total - 42.0065) < 1e-6
    assert values[("resque_up", ())] == 1
    assert not any(RUBY_WORKER in str(labels) for _, labels in values)  # no worker ids


def test_latency_is_the_age_of_the_head_job(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    old = time.time() - 120
    resque.jobs.push("slow", "Archive", [1], {"id": "a", "enqueued_at": old})
    resque.enqueue("slow", "Archive", 2)
    latency = scrape(client)[("resque_queue_latency_seconds", (("queue", "slow"),))]
    assert 120 <= latency < 600


def test_latency_has_no_sample_when_the_head_job_has_no_enqueue_time(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    """Ruby's payloads carry no enqueued_at: their queue's latency is unknown, not 0 (a 0
    would hide a backlog from the alert). An empty queue's latency is known: 0."""
    seed_ruby(resque, redis_client)  # Ruby's jobs on file_serve
    resque.enqueue("high", "Archive", 1)  # ours: with enqueued_at
    resque.jobs.push_payload("mixed", '{"class":"Archive","args":[1]}')  # Ruby's at the head
    resque.enqueue("mixed", "Archive", 2)  # ours behind it
    resque.enqueue("drained", "Archive", 3)
    assert resque.jobs.reserve("w:1:drained", ["drained"]) is not None
    values = scrape(client)
    latency = {labels[0][1]: value for (name, labels), value in values.items()
               if name == "resque_queue_latency_seconds"}  # fmt: skip
    assert set(latency) == {"high", "drained"}
    assert 0 <= latency["high"] < 60 and latency["drained"] == 0
    assert values[("resque_queue_jobs", (("queue", "file_serve"),))] == 3
    assert values[("resque_queue_jobs", (("queue", "mixed"),))] == 2


def test_empty_redis_reports_zero_workers_and_up(client: FlaskClient) -> None:
    values = scrape(client)
    assert values[("resque_workers", (("state", "busy"),))] == 0
    assert values[("resque_workers", (("state", "idle"),))] == 0
    assert values[("resque_up", ())] == 1


def test_redis_down_answers_up_zero_not_an_error(fresh_redis: Callable[[], RedisServer]) -> None:
    server = fresh_redis()
    resque = Resque(connect(server.url, socket_timeout=1.0, connect_timeout=1.0), "resque")
    resque.enqueue("q", "Archive", 1)
    client = create_app(Settings(redis_url=server.url, namespace="resque"), resque).test_client()
    assert scrape(client)[("resque_up", ())] == 1
    server.kill()
    down = scrape(client)
    assert {key[0] for key in down} == {"resque_up", "resque_build_info"}
    assert down[("resque_up", ())] == 0
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    page = client.get("/")
    assert page.status_code == 503
    assert "Redis unavailable" in page.get_data(as_text=True)
    server.start()
    assert scrape(client)[("resque_queue_jobs", (("queue", "q"),))] == 1


def test_untimed_queues_have_no_histogram(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("never_run", "Archive", 1)
    values = scrape(client)
    assert values[("resque_queue_jobs", (("queue", "never_run"),))] == 1
    assert not any(name.startswith("resque_job_duration") for name, _ in values)


def test_delayed_jobs_timestamps_overdue_and_leader(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    now = int(time.time())
    schedule_raw(resque, now - 90, RUBY_DELAYED)  # overdue: no scheduler moved it
    schedule_raw(resque, now + 600, RUBY_DELAYED, RUBY_DELAYED)
    resque.enqueue_at(now + 600, "file_serve", "Archive", 45)
    LeaderLock(redis_client, resque.keys, timeout=15, value="sched-host:4242").acquire_or_renew()
    values = scrape(client)
    assert values[("resque_delayed_jobs", ())] == 4
    assert values[("resque_delayed_timestamps", ())] == 2
    assert 90 <= values[("resque_delayed_oldest_overdue_seconds", ())] < 600
    assert values[("resque_scheduler_leader", (("scheduler", "sched-host:4242"),))] == 1
    resque.delayed.remove_timestamp(now - 90)
    redis_client.delete(resque.keys.scheduler_lock)
    values = scrape(client)
    assert values[("resque_delayed_oldest_overdue_seconds", ())] == 0  # next one is not due
    assert not any(name == "resque_scheduler_leader" for name, _ in values)


def test_schedule_lag_histogram_accumulates_the_stored_buckets(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    empty = scrape(client)
    assert empty[("resque_schedule_lag_seconds_count", ())] == 0
    assert empty[("resque_delayed_jobs", ())] == 0
    # the non-cumulative format of resque_proto.histogram, as the scheduler's move writes it
    stored: dict[str, str | int] = {"0.5": 3, "5.0": 1, "+Inf": 2, "sum": "7201.25", "count": 6}
    for field, value in stored.items():
        redis_client.hset(resque.keys.schedule_lag, field, value)
    values = scrape(client)
    expected = {0.25: 0, 0.5: 3, 1.0: 3, 5.0: 4, 3600.0: 4}
    for bound, count in expected.items():
        assert values[("resque_schedule_lag_seconds_bucket", (("le", repr(bound)),))] == count
    assert values[("resque_schedule_lag_seconds_bucket", (("le", "+Inf"),))] == 6
    assert values[("resque_schedule_lag_seconds_count", ())] == 6
    assert values[("resque_schedule_lag_seconds_sum", ())] == 7201.25


def test_a_real_move_is_counted_in_the_lag_histogram(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    schedule_raw(resque, int(time.time()) - 3, RUBY_DELAYED, RUBY_DELAYED)
    assert resque.delayed.move_due().moved == 2  # what a scheduler does
    values = scrape(client)
    assert values[("resque_schedule_lag_seconds_count", ())] == 2
    assert values[("resque_schedule_lag_seconds_bucket", (("le", "2.5"),))] == 0
    assert values[("resque_schedule_lag_seconds_bucket", (("le", "10.0"),))] == 2
    assert 6 <= values[("resque_schedule_lag_seconds_sum", ())] < 20


def test_paused_queues_and_retries_by_queue(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    for queue in ("file_serve", "file_serve", "high", "low"):
        resque.enqueue(queue, "Archive", 1)
    resque.queues.pause("high")
    resque.workers.register("ours:10:file_serve")
    for _ in range(2):  # two failed attempts rescheduled by the ack script, as a worker does
        held = resque.jobs.reserve("ours:10:file_serve", ["file_serve"])
        assert held is not None
        again = retry_payload(decode_payload(held.payload), "file_serve", 2)
        retry = RetryLater(int(time.time()) + 60, again)
        assert resque.jobs.finish("ours:10:file_serve", held, 0.01, retry=retry)
    redis_client.hincrby(resque.keys.retries, "gone", 5)  # a queue removed since

    values = scrape(client)

    paused = {q: values[("resque_queue_paused", (("queue", q),))] for q in ("file_serve", "high",
              "low")}  # fmt: skip
    assert paused == {"file_serve": 0, "high": 1, "low": 0}
    assert ("resque_queue_paused", (("queue", "gone"),)) not in values  # known queues only
    retries = {labels[0][1]: value for (name, labels), value in values.items()
               if name == "resque_job_retries_total"}  # fmt: skip
    assert retries == {"file_serve": 2, "gone": 5, "high": 0, "low": 0}
    resque.queues.resume("high")
    assert scrape(client)[("resque_queue_paused", (("queue", "high"),))] == 0


def test_help_texts_of_the_pause_and_retry_families(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("q", "Archive", 1)
    body = client.get("/metrics").get_data(as_text=True)
    assert "# HELP resque_queue_paused 1 while the queue is paused" in body
    assert "# TYPE resque_job_retries_total counter" in body
    assert 'resque_job_retries_total{queue="q"} 0.0' in body
    assert 'resque_queue_paused{queue="q"} 0.0' in body
