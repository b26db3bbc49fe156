"""The throughput chart's history: per-minute snapshots in Redis, last hour only."""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask.testing import FlaskClient
from frontend_testkit import post

from redis_runner.server import RedisServer
from resque_frontend import history
from resque_frontend.app import create_app
from resque_frontend.config import Settings
from resque_proto import Resque, connect

T0 = 1_795_000_020.0  # a minute boundary


def test_rates_between_snapshots_first_snapshot_of_a_minute_wins(resque: Resque) -> None:
    assert history.record(resque, 10, 0, T0) == []
    history.record(resque, 70, 2, T0 + 60)
    history.record(resque, 99, 9, T0 + 65)  # same minute: ignored
    bars = history.record(resque, 130, 3, T0 + 180)
    assert bars == [
        history.Bar(int(T0), 60.0, 2.0),
        history.Bar(int(T0) + 120, 30.0, 0.5),  # averaged over a 2-minute gap
    ]


def test_a_counter_reset_draws_no_bar(resque: Resque) -> None:
    history.record(resque, 500, 5, T0)
    assert history.record(resque, 3, 0, T0 + 60) == []


def test_minutes_older_than_an_hour_are_dropped(resque: Resque, redis_client: redis.Redis) -> None:
    for n in range(90):
        history.record(resque, n, 0, T0 + 60 * n)
    fields = redis_client.hkeys(resque.keys.throughput_history)
    assert len(fields) == 61
    assert min(int(f) for f in fields) == int(T0) + 60 * 29


def test_overview_draws_the_chart_once_there_are_two_minutes(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    assert "Collecting" in client.get("/").get_data(as_text=True)
    redis_client.delete(resque.keys.throughput_history)
    seconds, _ = redis_client.time()
    minute = int(seconds) // 60 * 60
    redis_client.hset(resque.keys.throughput_history, str(minute - 120), "40 0")
    redis_client.hset(resque.keys.throughput_history, str(minute - 60), "100 1")
    body = client.get("/").get_data(as_text=True)
    assert "<svg" in body and "60 processed, 1 failed" in body  # the minute minute-120


def test_metrics_scrapes_record_history(client: FlaskClient, redis_client: redis.Redis) -> None:
    client.get("/metrics")
    assert redis_client.hlen("resque:pyresque:history") == 1


def test_a_read_only_redis_user_gets_pages_and_metrics_without_history(
    fresh_redis: Callable[[], RedisServer],
) -> None:
    server = fresh_redis()
    admin = redis.Redis.from_url(server.url)
    admin.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["*"],
                      commands=["+@read", "+@connection", "+@scripting", "-@write", "+info",
                                "+time"])  # fmt: skip
    Resque(connect(server.url), "resque").enqueue("q", "Archive", 1)
    url = server.url.replace("redis://", "redis://reader:pw@")
    client = create_app(Settings(redis_url=url, namespace="resque")).test_client()
    assert "Collecting" in client.get("/").get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "resque_up 1.0" in metrics and 'resque_queue_jobs{queue="q"} 1.0' in metrics
    assert admin.exists("resque:pyresque:history") == 0
    refused = post(client, "/workers/pause")
    assert refused.status_code == 503
    assert "refused the command" in refused.get_data(as_text=True)
    assert admin.get("resque:pause-all-workers") is None
