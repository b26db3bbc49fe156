"""Paused queues, retried jobs and job statuses on the dashboard (docs/protocol.md,
section 9), with the keys written as resque_proto and our workers write them."""

from __future__ import annotations

import json
import re
import time

import pytest
import redis
from flask.testing import FlaskClient
from frontend_testkit import RUBY_DELAYED, XSS, AppFactory, links, post, schedule_raw, text_of

from resque_frontend.addressing import entry_id
from resque_proto import Resque, connect
from resque_proto.jobs import Reserved, RetryLater
from resque_proto.payload import decode_json, decode_payload
from resque_proto.records import failure_id, failure_record
from resque_proto.retry import retry_payload
from resque_proto.status import FAILED, SCHEDULED, SUCCEEDED

WORKER = "web-1:101:file_serve"


@pytest.fixture
def resque(redis_url: str) -> Resque:
    """Writes job statuses (the default fixture's TTL comes from the environment)."""
    return Resque(connect(redis_url), namespace="resque", status_ttl=600)


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    body: str = text_of(response)
    return body


def job_id(payload: str) -> str:
    value = json.loads(payload)["id"]
    assert isinstance(value, str)
    return value


def take(resque: Resque, queue: str = "file_serve") -> Reserved:
    resque.workers.register(WORKER)
    held = resque.jobs.reserve(WORKER, [queue])
    assert held is not None
    return held


def fail_for_good(resque: Resque, held: Reserved, attempts: int | None) -> str:
    """The last attempt's ack, as our worker makes it: a record and a failed status."""
    record = failure_record(
        payload=decode_json(held.payload), exception="ArchiveError", error="disk full",
        backtrace=["jobs.py:1:in perform"], worker=WORKER, queue=held.queue, attempts=attempts,
    )  # fmt: skip
    status = resque.jobs.status_of(held.queue, held.payload, FAILED, failure=decode_json(record))
    assert resque.jobs.finish(WORKER, held, 0.5, record, status=status)
    return record


# -- paused queues -------------------------------------------------------------------


def test_pause_and_resume_a_queue_from_its_page(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    resque.enqueue("high", "Archive", 2)
    body = page(client, "/queues/file_serve")
    assert "/queues/file_serve/pause" in links(body, "/queues/file_serve/")
    assert ">paused</span>" not in body
    done = post(client, "/queues/file_serve/pause")  # no confirmation: nothing is lost
    assert done.status_code == 303
    assert done.headers["Location"].startswith("/queues/file_serve?notice=queue-paused")
    assert resque.queues.paused() == {"file_serve"}
    assert resque.redis.get("resque:pause:queue:file_serve") == b"true"  # resque-pause's key
    shown = page(client, done.headers["Location"])
    assert "The queue is paused" in shown and ">paused</span>" in shown
    assert "/queues/file_serve/resume" in links(shown, "/queues/file_serve/")
    assert "/queues/file_serve/pause" not in links(shown, "/queues/file_serve/")
    assert resque.jobs.reserve("w:1:x", ["file_serve"]) is None  # workers skip it
    resumed = post(client, "/queues/file_serve/resume")
    assert resumed.headers["Location"].startswith("/queues/file_serve?notice=queue-resumed")
    assert resque.queues.paused() == set()
    assert "workers take jobs from it again" in page(client, resumed.headers["Location"])


def test_badges_on_the_queues_list_and_the_overview(client: FlaskClient, resque: Resque) -> None:
    for queue in ("file_serve", "high", "low"):
        resque.enqueue(queue, "Archive", 1)
    resque.queues.pause("high")
    listing = page(client, "/queues")
    assert "3 queues · 3 jobs waiting · 1 paused" in listing
    row = re.compile(r'<tr[^>]*><td><a href="/queues/(\w+)".*?</tr>', re.S)
    rows = {match.group(1): match.group(0) for match in row.finditer(listing)}
    assert ">paused</span>" in rows["high"] and "/queues/high/resume" in rows["high"]
    assert ">paused</span>" not in rows["low"] and "/queues/low/pause" in rows["low"]
    assert 'name="back" value="queues"' in rows["low"]
    overview = page(client, "/")
    assert overview.count(">paused</span>") == 1
    assert re.search(r'>high</a> <span class="badge paused"', overview)
    back = post(client, "/queues/low/pause", back="queues")  # from the list: back to it
    assert back.headers["Location"].startswith("/queues?notice=queue-paused")
    assert resque.queues.paused() == {"high", "low"}


def test_pausing_an_unknown_queue_changes_nothing_but_resume_always_works(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    gone = post(client, "/queues/nope/pause")
    assert "notice=queue-gone" in gone.headers["Location"]
    assert not redis_client.exists("resque:pause:queue:nope")
    redis_client.set("resque:pause:queue:nope", "true")  # left by a removed queue
    lifted = post(client, "/queues/nope/resume")
    assert lifted.headers["Location"].startswith("/queues?notice=queue-resumed")
    assert not redis_client.exists("resque:pause:queue:nope")


def test_queue_names_with_slashes_pause_and_resume(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.sadd(resque.keys.queues, "team/a")  # Ruby accepts any queue name
    assert post(client, "/queues/team/a/pause").status_code == 303
    assert redis_client.exists("resque:pause:queue:team/a")
    assert ">paused</span>" in page(client, "/queues/team/a")
    assert post(client, "/queues/team/a/resume").status_code == 303
    assert resque.queues.paused() == set()


def test_read_only_hides_and_refuses_pause_and_resume(make_app: AppFactory, resque: Resque) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    resque.enqueue("high", "Archive", 1)
    resque.queues.pause("high")
    client = make_app(read_only=True).test_client()
    for path in ("/queues", "/queues/high", "/queues/file_serve"):
        body = page(client, path)
        assert "/pause" not in body and "/resume" not in body
    assert ">paused</span>" in page(client, "/queues/high")  # the state is still shown
    assert post(client, "/queues/file_serve/pause").status_code == 403
    assert post(client, "/queues/high/resume").status_code == 403
    assert resque.queues.paused() == {"high"}


def test_pause_needs_a_csrf_token(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    assert client.post("/queues/file_serve/pause").status_code == 403
    assert resque.queues.paused() == set()


# -- retried jobs ------------------------------------------------------------------------


def test_a_retry_shows_its_attempt_of_the_limit_and_its_next_run(
    client: FlaskClient, resque: Resque
) -> None:
    """A payload with its own policy: attempt n of 1 + retry.limit; without: attempt n."""
    at = int(time.time()) + 300
    own = ('{"class":"Archive","args":[44],"id":"0123456789abcdef0123456789abcdef",'
           '"retry":{"limit":3,"delay":300},"attempt":2,"queue":"file_serve"}')  # fmt: skip
    by_class = '{"class":"Thumbnail","args":[1],"id":"feedc0de","attempt":3,"queue":"high"}'
    schedule_raw(resque, at, own, by_class, RUBY_DELAYED)
    body = page(client, f"/delayed/{at}")
    assert "retry: attempt 2 of 4</span>" in body
    assert "retry: attempt 3</span>" in body
    assert body.count('class="badge retry"') == 2  # Ruby's payload is a first attempt
    assert body.count("next run: in 4m ") + body.count("next run: in 5m ") == 2
    assert f'title="next run {time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))} UTC"' in body
    assert "&#34;delay&#34;: 300" in body  # the policy is still shown with the metadata
    listing = page(client, "/delayed")  # the first job of the time, due then: its next run
    assert "retry: attempt 2 of 4</span>" in listing
    assert 'href="/jobs/0123456789abcdef0123456789abcdef"' in body
    assert 'href="/jobs/feedc0de"' in body


def test_a_real_retry_is_shown_as_the_worker_scheduled_it(
    client: FlaskClient, resque: Resque
) -> None:
    resque.enqueue("file_serve", "Archive", 44)
    held = take(resque)
    later = int(time.time()) + 60
    again = retry_payload(decode_payload(held.payload), "file_serve", 2)
    status = resque.jobs.status_of(held.queue, held.payload, SCHEDULED, scheduled_for=later,
                                   attempt=2)  # fmt: skip
    assert resque.jobs.finish(WORKER, held, 0.1, status=status, retry=RetryLater(later, again))
    assert "retry: attempt 2</span>" in page(client, f"/delayed/{later}")
    shown = page(client, f"/jobs/{job_id(held.payload)}")
    assert ">scheduled</span>" in shown and "a retry, waiting for its next run" in shown
    assert "Next run" in shown and f'href="/delayed/{later}"' in shown
    assert "(retried 1 time)" in shown


def test_failure_records_say_after_how_many_attempts(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    resque.enqueue("file_serve", "Archive", 2)
    record = fail_for_good(resque, take(resque), attempts=3)
    plain = fail_for_good(resque, take(resque), attempts=None)  # no retry policy
    assert json.loads(record)["attempts"] == 3 and "attempts" not in json.loads(plain)
    listing = page(client, "/failed")
    assert listing.count('class="badge attempts"') == 1 and "after 3 attempts</span>" in listing
    detail = page(client, f"/failed/0/{failure_id(record)}")
    assert "<dt>Attempts</dt>" in detail and "after 3 attempts</span>" in detail
    assert f'href="/jobs/{json.loads(record)["payload"]["id"]}"' in detail
    assert "<dt>Attempts</dt>" not in page(client, f"/failed/1/{failure_id(plain)}")


# -- job status --------------------------------------------------------------------------


def test_job_status_queued_with_links_from_the_queue_page(
    client: FlaskClient, resque: Resque
) -> None:
    payload = resque.enqueue("file_serve", "Archive", 44)
    ident = job_id(payload)
    queue_page = page(client, "/queues/file_serve")
    assert f"/jobs/{ident}" in links(queue_page, "/jobs/")
    body = page(client, f"/jobs/{ident}")
    assert ">queued</span>" in body and "waiting on its queue" in body
    assert "Archive</span>" in body and 'href="/queues/file_serve"' in body
    assert "Raw status" in body and "<dt>Attempt</dt>" not in body


def test_job_status_scheduled(client: FlaskClient, resque: Resque) -> None:
    at = int(time.time()) + 3600
    payload = resque.enqueue_at(at, "reports", "WeeklyReport", "2026-W49")
    body = page(client, f"/jobs/{job_id(payload)}")
    assert ">scheduled</span>" in body and "a delayed job, waiting for its time" in body
    assert "Scheduled for" in body and f'href="/delayed/{at}"' in body and "in 59m " in body
    assert f"/jobs/{job_id(payload)}" in links(page(client, f"/delayed/{at}"), "/jobs/")


def test_job_status_running_and_succeeded(client: FlaskClient, resque: Resque) -> None:
    payload = resque.enqueue("file_serve", "Archive", 44)
    held = take(resque)
    running = page(client, f"/jobs/{job_id(payload)}")
    assert ">running</span>" in running and "Running since" in running
    assert f'href="/workers/{WORKER}"' in running and "just now" in running
    assert f"/jobs/{job_id(payload)}" in links(page(client, f"/workers/{WORKER}"), "/jobs/")
    status = resque.jobs.status_of(held.queue, held.payload, SUCCEEDED, duration=1.25)
    assert resque.jobs.finish(WORKER, held, 1.25, status=status)
    done = page(client, f"/jobs/{job_id(payload)}")
    assert ">succeeded</span>" in done and "Ran for" in done and "1.2s" in done


def test_job_status_failed_links_its_record_while_it_is_there(
    client: FlaskClient, resque: Resque
) -> None:
    payload = resque.enqueue("file_serve", "Archive", 44)
    for n in range(3):  # records of other jobs, before and after
        resque.failures.create(payload={"class": "Other", "args": [n]}, exception="E",
                               error="x", backtrace=[], worker=WORKER, queue="q")  # fmt: skip
    record = fail_for_good(resque, take(resque), attempts=4)
    resque.failures.create(payload={"class": "Later", "args": []}, exception="E", error="y",
                           backtrace=[], worker=WORKER, queue="q")  # fmt: skip
    body = page(client, f"/jobs/{job_id(payload)}")
    assert ">failed</span>" in body and "ArchiveError" in body and "disk full" in body
    assert "after 4 attempts</span>" in body
    link = f"/failed/3/{failure_id(record)}"
    assert link in links(body, "/failed/")
    assert "disk full" in page(client, link)
    assert post(client, link + "/retry").status_code == 303  # the record gets retried_at
    moved = page(client, f"/jobs/{job_id(payload)}")
    assert "/failed/3/" not in moved and "no longer in the failed list" in moved


def test_unknown_job_status_explains_why(client: FlaskClient, resque: Resque) -> None:
    body = page(client, "/jobs/0123456789abcdef0123456789abcdef")
    assert ">unknown</span>" in body and "RESQUE_STATUS_TTL" in body
    assert "Raw status" not in body
    assert ">unknown</span>" in page(client, "/jobs/" + "x" * 300)  # longer than any id
    expired = resque.enqueue("file_serve", "Archive", 1)
    resque.redis.delete(resque.keys.status(job_id(expired)))
    assert ">unknown</span>" in page(client, f"/jobs/{job_id(expired)}")


def test_the_lookup_form_leads_to_the_job(client: FlaskClient, resque: Resque) -> None:
    form = page(client, "/jobs")
    assert 'action="/jobs"' in form and 'name="id"' in form
    assert 'href="/jobs" class="active"' in form
    jumped = client.get("/jobs?id=+abc123+")
    assert jumped.status_code == 302 and jumped.headers["Location"] == "/jobs/abc123"
    body = page(client, "/jobs/abc123")
    assert 'href="/jobs" class="active"' in body and 'value="abc123"' in body


def test_job_status_is_inert_against_xss_in_the_stored_body(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    body = {"id": "evil", "state": XSS, "queue": XSS, "class": XSS, "updated_at": "soon",
            "failure": {"exception": XSS, "error": XSS, "payload": {"class": XSS}}}  # fmt: skip
    redis_client.set(resque.keys.status("evil"), json.dumps(body))
    shown = page(client, "/jobs/evil")
    assert "<script>alert" not in shown and "&lt;script&gt;alert(" in shown
    redis_client.set(resque.keys.status("odd"), "[1, 2]")  # not a status object: unknown
    assert ">unknown</span>" in page(client, "/jobs/odd")


def test_delayed_job_links_use_the_payload_id_not_the_entry_id(
    client: FlaskClient, resque: Resque
) -> None:
    at = int(time.time()) + 600
    ours = resque.enqueue_at(at, "file_serve", "Archive", 1)
    body = page(client, f"/delayed/{at}")
    assert f'href="/jobs/{job_id(ours)}"' in body
    assert f"/jobs/{entry_id(ours)}" not in body


@pytest.mark.parametrize(("value", "shown"), [(" TRUE ", True), ("True\n", True), ("1", False)])
def test_pause_all_workers_is_read_as_ruby_reads_it(
    client: FlaskClient, resque: Resque, value: str, shown: bool
) -> None:
    """Ruby: ``value.to_s.strip.downcase == 'true'``; the banner follows the workers."""
    resque.redis.set(resque.keys.pause_all, value)
    page = client.get("/").get_data(as_text=True)
    assert ("Workers are paused" in page) is shown
