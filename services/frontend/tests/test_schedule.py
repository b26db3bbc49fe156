"""The Schedule page and its actions, on definitions as resque-scheduler stores them."""

from __future__ import annotations

import json

import redis
from flask.testing import FlaskClient
from frontend_testkit import RUBY_LAST_ENQUEUED, XSS, AppFactory, post, text_of

from resque_proto import Resque
from resque_proto.leader import LeaderLock


def page(client: FlaskClient) -> str:
    response = client.get("/schedule")
    assert response.status_code == 200
    body: str = text_of(response)
    return body


def row(body: str, name: str) -> str:
    """The table row of the schedule ``name``."""
    start = body.index(f"<strong>{name}</strong>")
    return body[start : body.index("</tr>", start)]


def test_valid_entries_show_job_timing_next_and_last_run(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.schedules.put("nightly", {"cron": "30 2 * * * Europe/Paris", "class": "Archive",
                                     "queue": "file_serve", "args": [0, "master"],
                                     "description": "archive at night"})  # fmt: skip
    # resque-scheduler 4.4 writes persistent_schedules; its hash args is one argument
    ping_definition = '{"every":"5m","queue":"high","args":{"deep":true},"rails_env":"production"}'
    redis_client.hset(resque.keys.persistent_schedules, "Ping", ping_definition)
    redis_client.hset(resque.keys.last_enqueued_at, "nightly", RUBY_LAST_ENQUEUED)
    body = page(client)
    assert "2 recurring jobs" in body
    nightly = row(body, "nightly")
    assert "archive at night" in nightly and "Archive</span>" in nightly
    assert "(0, &#34;master&#34;)" in nightly and ">file_serve</span>" in nightly
    assert "<code>30 2 * * * Europe/Paris</code>" in nightly
    assert ":30:00 UTC</time>" in nightly and "in " in nightly  # 02:30 Paris, in UTC
    assert f'title="{RUBY_LAST_ENQUEUED}"' in nightly and " ago</time>" in nightly
    ping = row(body, "Ping")
    assert "Ping</span>" in ping and "({&#34;deep&#34;: true})" in ping  # class = the name
    assert "<code>5m</code>" in ping and "env: production" in ping and "never" in ping
    assert ":00 UTC</time>" in ping
    assert body.index("<strong>Ping") < body.index("<strong>nightly")


def test_invalid_and_unreadable_definitions_are_rows_with_their_error(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.schedules.put("no_queue", {"every": "1m", "class": "Archive"})
    resque.schedules.put("bad_cron", {"cron": "61 * * * *", "class": "Archive", "queue": "q"})
    resque.schedules.put("zone_dir", {"cron": "0 5 * * * Europe", "class": "A", "queue": "q"})
    resque.schedules.put("never", {"cron": "0 0 30 2 *", "class": "Archive", "queue": "q"})
    redis_client.hset(resque.keys.schedules, mapping={"not_json": "{nope", "a_list": "[1]"})
    resque.schedules.put("far", {"every": 1e300, "class": "Archive", "queue": "q"})  # valid
    body = page(client)
    assert "1e+300</time>" in row(body, "far")
    assert "names no queue" in row(body, "no_queue")
    assert "not a valid cron line" in row(body, "bad_cron") and "61 * * * *" in body
    assert "invalid</span>" in row(body, "zone_dir")
    assert "failed to find next date" in row(body, "never")  # February 30th
    assert "not JSON" in row(body, "not_json")
    assert "not a JSON object" in row(body, "a_list")
    assert body.count("Enqueue now") == 1 and body.count(">Delete</button>") == 7


def test_no_leader_is_a_visible_warning(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    assert "No scheduler leads: recurring jobs are not being enqueued." in page(client)
    lock = LeaderLock(redis_client, resque.keys, timeout=15, value="sched-host:4242")
    assert lock.acquire_or_renew()
    body = page(client)
    assert "No scheduler leads" not in body and "<code>sched-host:4242</code>" in body


def test_enqueue_now_pushes_the_entrys_job(client: FlaskClient, resque: Resque) -> None:
    resque.schedules.put("team/report", {"every": "1h", "class": "WeeklyReport",
                                         "queue": "reports", "args": ["2026-W49", 2]})  # fmt: skip
    body = page(client)
    assert 'action="/schedule/team/report/enqueue"' in body
    response = post(client, "/schedule/team/report/enqueue")
    assert response.status_code == 303
    assert "notice=schedule-enqueued" in response.headers["Location"]
    [job] = resque.queues.peek("reports")
    assert (job.class_name, job.args) == ("WeeklyReport", ["2026-W49", 2])
    assert "id" in job.extras and "enqueued_at" in job.extras
    assert resque.schedules.last_enqueued() == {}  # a manual run is not a scheduled one


def test_enqueue_now_of_an_invalid_or_missing_entry_pushes_nothing(
    client: FlaskClient, resque: Resque
) -> None:
    resque.schedules.put("no_queue", {"every": "1m", "class": "Archive"})
    for path in ("/schedule/no_queue/enqueue", "/schedule/missing/enqueue"):
        response = post(client, path)
        assert "notice=schedule-unusable" in response.headers["Location"]
    assert resque.queues.names() == []


def test_delete_asks_then_removes_from_both_hashes(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.schedules.put("doomed", {"every": "1m", "class": "Archive", "queue": "q"})
    redis_client.hset(resque.keys.persistent_schedules, "doomed", '{"every":"2m","queue":"q"}')
    resque.schedules.put("kept", {"every": "1m", "class": "Archive", "queue": "q"})
    resque.schedules.take_changed()
    asked = post(client, "/schedule/doomed/remove")
    assert asked.status_code == 200 and "Are you sure?" in text_of(asked)
    done = post(client, "/schedule/doomed/remove", confirm="yes")
    assert done.status_code == 303
    assert "The recurring schedule was deleted" in text_of(client.get(done.headers["Location"]))
    assert list(resque.schedules.stored().definitions) == ["kept"]
    assert resque.schedules.take_changed() == {"doomed"}  # schedulers reload it


def test_read_only_hides_and_refuses_schedule_actions(make_app: AppFactory, resque: Resque) -> None:
    resque.schedules.put("kept", {"every": "1m", "class": "Archive", "queue": "q"})
    client = make_app(read_only=True).test_client()
    body = page(client)
    assert "Enqueue now" not in body and "Delete" not in body
    assert post(client, "/schedule/kept/enqueue").status_code == 403
    assert post(client, "/schedule/kept/remove", confirm="yes").status_code == 403
    assert resque.queues.names() == [] and list(resque.schedules.stored().definitions) == ["kept"]


def test_xss_in_a_definition_is_inert(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    evil = {"every": "1m", "class": "Archive", "queue": "q", "args": [XSS], "description": XSS}
    redis_client.hset(resque.keys.schedules, XSS, json.dumps(evil))
    redis_client.hset(resque.keys.schedules, "bad", json.dumps({"cron": XSS, "queue": "q"}))
    body = page(client)
    assert "<script>alert" not in body and "&lt;script&gt;alert(" in body
