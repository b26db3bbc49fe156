"""The Delayed pages and their actions, on delayed jobs written as resque-scheduler
(Ruby) and as our producers write them (docs/protocol.md, section 8)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import redis
from flask.testing import FlaskClient
from frontend_testkit import (
    ACTIVE_JOB,
    RUBY_DELAYED,
    XSS,
    AppFactory,
    links,
    post,
    schedule_raw,
    text_of,
)

from resque_frontend import delayed
from resque_frontend.addressing import entry_id
from resque_proto import Resque

JOB_ID = "0123456789abcdef0123456789abcdef"
OURS = f'{{"class":"Archive","args":[45],"id":"{JOB_ID}","queue":"file_serve"}}'
NODE = '{"class":"Thumbnail","queue":"high","args":[{"size":"256x256"}]}'  # node-resque's order


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    body: str = text_of(response)
    return body


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def job_url(timestamp: int, index: int, raw: str) -> str:
    return f"/delayed/{timestamp}/jobs/{index}/{entry_id(raw)}/remove"


def test_delayed_page_lists_times_soonest_first_with_their_first_job(
    client: FlaskClient, resque: Resque
) -> None:
    now = int(time.time())
    schedule_raw(resque, now - 5, RUBY_DELAYED)
    ours = resque.enqueue_at(now + 185, "reports", "WeeklyReport", "2026-W49")
    schedule_raw(resque, now + 185, NODE)
    body = page(client, "/delayed")
    assert "3 jobs" in body and "at 2 times" in body
    overdue, later = utc(now - 5), utc(now + 185)
    assert body.index(overdue) < body.index(later)
    assert "overdue</span>" in body and "in 3m " in body
    assert "Archive</span>" in body and "(44)" in body and '<span class="chip">file_serve' in body
    assert "WeeklyReport" in body and "Thumbnail" not in body  # only the first job of a time
    assert f'href="/delayed/{now + 185}"' in body
    detail = page(client, f"/delayed/{now + 185}")
    assert "2 jobs" in detail and json.loads(ours)["id"] in detail
    assert "Thumbnail" in detail and "256x256" in detail and ">high</span>" in detail


def test_nav_marks_delayed_and_schedule(client: FlaskClient, resque: Resque) -> None:
    now = int(time.time())
    schedule_raw(resque, now + 60, RUBY_DELAYED)
    for path in ("/delayed", f"/delayed/{now + 60}"):
        assert 'href="/delayed" class="active"' in page(client, path)
    assert 'href="/schedule" class="active"' in page(client, "/schedule")


def test_two_thousand_times_are_paginated_25_a_page(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    start = int(time.time()) + 1000
    pipe = redis_client.pipeline(transaction=False)
    for n in range(2000):
        payload = f'{{"class":"Archive","args":[{n}],"queue":"file_serve"}}'
        pipe.rpush(resque.keys.delayed(start + n), payload)
        pipe.sadd(resque.keys.delayed_timestamps(payload), f"delayed:{start + n}")
        pipe.zadd(resque.keys.delayed_schedule, {str(start + n): start + n})
    pipe.execute()
    first = page(client, "/delayed")
    assert "2,000 jobs" in first and "at 2,000 times" in first and "page 1 of 80" in first
    assert utc(start) in first and utc(start + 24) in first and utc(start + 25) not in first
    last = page(client, "/delayed?page=79")
    assert "page 80 of 80" in last
    shown = {int(link.split("/")[2]) for link in links(last, "/delayed/") if "/" not in link[9:]}
    assert shown == set(range(start + 1975, start + 2000))
    assert "No timestamps on this page" in page(client, "/delayed?page=80")


def test_jobs_are_not_counted_past_the_limit(
    client: FlaskClient, resque: Resque, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delayed, "EXACT_COUNT_LIMIT", 10)
    start = int(time.time()) + 1000
    for n in range(12):
        schedule_raw(resque, start + n, RUBY_DELAYED, OURS)
    body = page(client, "/delayed")
    assert "at least 12 jobs" in body and "at 12 times" in body


def test_a_times_page_shows_every_kind_of_payload_and_paginates(
    client: FlaskClient, resque: Resque
) -> None:
    at = int(time.time()) + 600
    wrapped = json.loads(ACTIVE_JOB)
    wrapped["queue"] = "file_serve"
    active_job = json.dumps(wrapped, separators=(",", ":"))
    schedule_raw(resque, at, RUBY_DELAYED, OURS, NODE, active_job, "not json {",
                 '{"class":"Lost","args":[]}')  # fmt: skip
    body = page(client, f"/delayed/{at}")
    assert "6 jobs" in body
    assert JOB_ID in body
    assert "ArchiveJob" in body and "ActiveJob</span>" in body and "masterbrew" in body
    assert "unreadable" in body and "not json {" in body
    assert "no queue</span>" in body  # would become a failure record when moved
    assert len(links(body, f"/delayed/{at}/jobs/")) == 6
    schedule_raw(resque, at, *(f'{{"class":"More","args":[{n}],"queue":"q"}}' for n in range(20)))
    second = page(client, f"/delayed/{at}?page=1")
    assert "page 2 of 2" in second and second.count('<td class="num">2') == 6  # 20..25


def test_an_empty_time_is_404_and_a_bad_page_is_400(client: FlaskClient) -> None:
    assert client.get("/delayed/1700000000").status_code == 404
    assert client.get("/delayed?page=x").status_code == 400


def test_run_now_asks_then_moves_the_jobs_onto_their_queues(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    at = int(time.time()) + 3600
    schedule_raw(resque, at, RUBY_DELAYED, OURS)
    asked = post(client, f"/delayed/{at}/run")
    assert asked.status_code == 200 and "Are you sure?" in text_of(asked)
    assert resque.delayed.count() == 2
    done = post(client, f"/delayed/{at}/run", confirm="yes")
    assert done.status_code == 303 and "n=2" in done.headers["Location"]
    queued = [job.raw for job in resque.queues.peek("file_serve", 0, 10)]
    assert queued[0] == '{"class":"Archive","args":[44]}'  # the queue member cut, as Ruby
    assert json.loads(queued[1])["id"] == json.loads(OURS)["id"]
    assert resque.queues.names() == ["file_serve"]
    assert resque.delayed.timestamp_count() == 0
    assert not redis_client.exists(resque.keys.delayed_timestamps(RUBY_DELAYED))
    shown = text_of(client.get(done.headers["Location"]))
    assert "2 delayed jobs were put on their queues" in shown
    gone = post(client, f"/delayed/{at}/run", confirm="yes")
    assert "notice=delayed-gone" in gone.headers["Location"]


def test_remove_a_time_drops_its_jobs_and_their_timestamps_entries(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    at, kept = int(time.time()) + 3600, int(time.time()) + 7200
    schedule_raw(resque, at, RUBY_DELAYED, OURS)
    schedule_raw(resque, kept, RUBY_DELAYED)
    assert "Are you sure?" in text_of(post(client, f"/delayed/{at}/remove"))
    done = post(client, f"/delayed/{at}/remove", confirm="yes")
    assert done.status_code == 303 and "n=2" in done.headers["Location"]
    assert resque.delayed.timestamps() == [(kept, 1)]
    assert resque.delayed.scheduled_at(RUBY_DELAYED) == [kept]
    assert not redis_client.exists(resque.keys.delayed_timestamps(OURS))
    assert resque.queues.names() == []


def test_remove_one_job_by_its_exact_bytes(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    at, other = int(time.time()) + 3600, int(time.time()) + 7200
    schedule_raw(resque, at, RUBY_DELAYED, OURS)
    schedule_raw(resque, other, RUBY_DELAYED)
    body = page(client, f"/delayed/{at}")
    assert job_url(at, 0, RUBY_DELAYED) in links(body, f"/delayed/{at}/jobs/")
    assert "Are you sure?" in text_of(post(client, job_url(at, 0, RUBY_DELAYED)))
    done = post(client, job_url(at, 0, RUBY_DELAYED), confirm="yes")
    assert done.headers["Location"].startswith(f"/delayed/{at}?")  # jobs are left there
    assert resque.delayed.jobs_at(at) == [OURS]
    assert resque.delayed.scheduled_at(RUBY_DELAYED) == [other]  # the other time keeps it
    last = post(client, job_url(at, 0, OURS), confirm="yes")
    assert last.headers["Location"].startswith("/delayed?")
    assert "The delayed job was deleted" in text_of(client.get(last.headers["Location"]))
    assert resque.delayed.timestamps() == [(other, 1)]
    assert not redis_client.exists(resque.keys.delayed_timestamps(OURS))


def test_identical_copies_at_one_time_go_together(client: FlaskClient, resque: Resque) -> None:
    at = int(time.time()) + 3600
    schedule_raw(resque, at, RUBY_DELAYED, RUBY_DELAYED, OURS)
    done = post(client, job_url(at, 1, RUBY_DELAYED), confirm="yes")
    assert "notice=delayed-copies-removed" in done.headers["Location"]
    assert resque.delayed.jobs_at(at) == [OURS]


def test_a_moved_or_changed_job_is_never_touched(client: FlaskClient, resque: Resque) -> None:
    at = int(time.time()) + 3600
    schedule_raw(resque, at, RUBY_DELAYED, OURS)
    stale = job_url(at, 0, RUBY_DELAYED)
    resque.delayed.remove_payload(RUBY_DELAYED)  # someone removed it; OURS is now at 0
    response = post(client, stale, confirm="yes")
    assert "notice=delayed-moved" in response.headers["Location"]
    assert "no longer there" in text_of(client.get(response.headers["Location"]))
    assert resque.delayed.jobs_at(at) == [OURS]
    shifted = job_url(at, 1, OURS)  # seen at index 1, now at 0: still found by its bytes
    assert post(client, shifted, confirm="yes").status_code == 303
    assert resque.delayed.count() == 0


def test_read_only_hides_and_refuses_delayed_actions(make_app: AppFactory, resque: Resque) -> None:
    at = int(time.time()) + 3600
    schedule_raw(resque, at, RUBY_DELAYED)
    client = make_app(read_only=True).test_client()
    for path in ("/delayed", f"/delayed/{at}"):
        body = page(client, path)
        assert "Run now" not in body and "/remove" not in body
    for action in (f"/delayed/{at}/run", f"/delayed/{at}/remove", job_url(at, 0, RUBY_DELAYED)):
        assert post(client, action, confirm="yes").status_code == 403
    assert resque.delayed.jobs_at(at) == [RUBY_DELAYED]


def test_xss_in_a_delayed_payload_is_inert(client: FlaskClient, resque: Resque) -> None:
    at = int(time.time()) + 3600
    schedule_raw(resque, at, json.dumps({"class": XSS, "args": [XSS], "queue": XSS}))
    for path in ("/delayed", f"/delayed/{at}"):
        body = page(client, path)
        assert "<script>alert" not in body and "&lt;script&gt;alert(" in body
