"""Every page on a real Redis, with data written as Ruby Resque and as our workers do."""

from __future__ import annotations

import html
import json
import re

import redis
from flask.testing import FlaskClient
from frontend_testkit import (
    ACTIVE_JOB,
    RUBY_FAILURE,
    RUBY_JOBS,
    RUBY_WORKER,
    XSS,
    AppFactory,
    add_failure,
    links,
    post,
    seed_ruby,
    text_of,
)

from resque_proto import Resque
from resque_proto.records import failure_id


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == "text/html"
    body: str = text_of(response)
    return body


def test_overview_shows_queues_failures_and_who_works_on_what(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    body = page(client, "/")
    assert ">file_serve</a>" in body
    assert "SlowArchive" in body and "(3.0)" in body  # the Ruby worker's job
    assert "vm:3887" in body
    assert 'data-live="on"' in body
    assert '<span class="count bad">2</span>' in body  # failed records in the nav


def test_empty_redis_pages_say_so(client: FlaskClient) -> None:
    assert "No queues yet" in page(client, "/")
    assert "No workers are registered" in page(client, "/workers")
    assert "No failed jobs" in page(client, "/failed")
    assert "Nobody is working" in page(client, "/working")


def test_queues_list_sizes_and_latency(client: FlaskClient, resque: Resque) -> None:
    resque.jobs.push("old", "Archive", [1], {"id": "x", "enqueued_at": 1.0})
    resque.enqueue("new", "Archive", 2)
    resque.workers.register("w:1:old")
    for duration in (0.02, 0.02, 0.3):  # run the one job three times, as a worker would
        reserved = resque.jobs.reserve("w:1:old", ["old"])
        assert reserved is not None
        resque.jobs.finish("w:1:old", reserved, duration)
        resque.jobs.push_payload("old", reserved.payload)
    body = page(client, "/queues")
    # p50 and p95 interpolated in the buckets (0.01, 0.025] and (0.25, 0.5]
    assert "3 jobs timed" in body and "21ms / 462ms" in body
    assert ">old</a>" in body and ">new</a>" in body
    assert "d " in body  # the first job of "old" waited for days (epoch 1)
    assert "Remove" in body


def test_queue_page_paginates_and_shows_args_and_active_job(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    for n in range(45):
        resque.enqueue("file_serve", "Archive", n, "master")
    first = page(client, "/queues/file_serve")
    assert "48 jobs waiting" in first
    assert "ArchiveJob" in first and "ActiveJob" in first  # the real class, as resque-web
    assert "masterbrew" in first
    assert "page 1 of 3" in first
    third = page(client, "/queues/file_serve?page=2")
    assert "page 3 of 3" in third
    assert third.count('<td class="num">4') >= 8  # indexes 40..47
    assert "&#34;master&#34;" in third


def test_unknown_queue_is_404_and_bad_page_is_400(client: FlaskClient) -> None:
    assert client.get("/queues/nope").status_code == 404
    response = client.get("/queues/nope?page=-1")
    assert response.status_code == 400
    assert "whole number" in text_of(response)


def test_workers_grouped_by_host_with_ruby_stale_marked(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)  # heartbeat from 2026-11-27 18:47: stale for Ruby's rule
    resque.workers.register("otherhost:55:high,low")
    body = page(client, "/workers")
    assert "<h2>vm</h2>" in body and "<h2>otherhost</h2>" in body
    assert body.count('class="is-stale"') == 1
    assert "1 stale" in body
    assert '<span class="chip">high</span><span class="chip">low</span>' in body
    assert ">ruby</span>" in body  # Ruby's worker is not one of ours


def test_worker_detail_for_a_ruby_worker(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    body = page(client, f"/workers/{RUBY_WORKER}")
    assert RUBY_WORKER in body
    assert "SlowArchive" in body
    assert "21" in body and "stale" in body
    assert client.get("/workers/gone:1:q").status_code == 404


def test_working_lists_busy_workers_only(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    resque.workers.register("idlehost:1:q")
    body = page(client, "/working")
    assert "1 of 2 workers busy" in body
    assert "SlowArchive" in body and "idlehost" not in body


def test_failed_list_newest_first_with_detail_links(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    body = page(client, "/failed")
    assert body.index("FailingArchive") < body.index("SleepJob")  # newest first
    assert ">retried</span>" in body  # Ruby's retried_at
    detail = f"/failed/1/{failure_id(RUBY_FAILURE)}"
    assert detail in links(body, "/failed/1/")
    shown = page(client, detail)
    assert "resque_roundtrip.rb:90:in `perform&#39;" in shown  # full backtrace, escaped
    assert "cannot archive repo 4242" in shown


def test_failed_pagination_newest_first(client: FlaskClient, resque: Resque) -> None:
    for n in range(60):
        add_failure(resque, args=[n], error=f"err-{n}")
    first = page(client, "/failed")
    assert "err-59" in first and "err-35" in first and "err-34" not in first
    assert "page 1 of 3" in first
    last = page(client, "/failed?page=2")
    assert "err-9<" in last and "err-0<" in last and "err-10<" not in last
    indexes = {int(link.split("/")[2]) for link in links(last, "/failed/") if link[8].isdigit()}
    assert indexes == set(range(10))


def test_failed_filters_by_queue_class_and_exception(client: FlaskClient, resque: Resque) -> None:
    for n in range(30):
        add_failure(
            resque,
            cls="Archive" if n % 2 else "Thumbnail",
            exception="Timeout" if n % 3 else "IOError",
            error=f"e{n}.",
            queue="low" if n < 10 else "high",
        )
    body = page(client, "/failed?queue=high&class=thumb&exception=ioerror")
    shown = sorted(int(e) for e in re.findall(r">e(\d+)\.<", body))
    assert shown == [12, 18, 24]
    assert "Clear filter" in body


def test_failed_filter_continues_older_across_a_scan_limit(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    from resque_frontend import failed

    rare = add_failure(resque, cls="Rare", error="x")
    common = [rare.replace("Rare", "Common").replace('"x"', f'"{n}"') for n in range(30)]
    redis_client.rpush(resque.keys.failed, *common)
    original = failed.SCAN_LIMIT, failed.SCAN_CHUNK
    failed.SCAN_LIMIT, failed.SCAN_CHUNK = 10, 5
    try:
        first = page(client, "/failed?class=Rare")
        assert "No record matches among the 10 searched" in first
        older = links(first, "/failed?")
        assert any("before=21" in link for link in older)
        body = first
        while "Rare</span>" not in body:
            nxt = [link for link in links(body, "/failed?") if "before=" in link]
            body = page(client, nxt[-1])
        assert "Rare</span>" in body
    finally:
        failed.SCAN_LIMIT, failed.SCAN_CHUNK = original


def test_stats_and_key_browser(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    body = page(client, "/stats")
    assert "redis_version" in body and "processed" in body
    keys = page(client, "/stats/keys")
    assert "resque:failed" in keys and "resque:workers:heartbeat" in keys
    failed_key = page(client, "/stats/keys/resque:failed")
    assert "cannot archive repo 4242" in failed_key
    assert "2 entries" in failed_key
    beats = page(client, "/stats/keys/resque:workers:heartbeat")
    assert "2026-11-27T18:47:43+00:00" in beats
    assert client.get("/stats/keys/other:thing").status_code == 404
    assert client.get("/stats/keys/resque:missing").status_code == 404


def test_stats_hides_the_redis_password(make_app: AppFactory, redis_url: str) -> None:
    with_password = redis_url.replace("redis://", "redis://:s3cret@")
    client = make_app(redis_url=with_password).test_client()
    body = page(client, "/stats")
    assert "s3cret" not in body and ":***@" in body


def test_xss_in_args_class_error_and_queue_is_inert(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    payload = f'{{"class":"{XSS}","args":["{XSS}"]}}'
    redis_client.sadd(resque.keys.queues, "evil")
    redis_client.rpush(resque.keys.queue("evil"), payload)
    add_failure(resque, cls=XSS, args=[XSS], exception=XSS, error=XSS, backtrace=[XSS],
                worker=XSS, queue="evil")  # fmt: skip
    worker = "evilhost:1:evil"
    redis_client.sadd(resque.keys.workers, worker)
    redis_client.set(
        resque.keys.worker(worker), f'{{"queue":"evil","run_at":"x","payload":{payload}}}'
    )
    record = text_of(client.get("/failed")).split("/failed/0/")[1].split('"')[0]
    for path in ("/", "/queues/evil", "/failed", f"/failed/0/{record}", "/workers",
                 f"/workers/{worker}", "/working", "/stats/keys/resque:queue:evil"):  # fmt: skip
        body = page(client, path)
        assert "<script>alert" not in body, path
        assert html.escape(XSS) in body or "&lt;script&gt;alert(&#39;x&#39;)" in body, path


def test_malformed_payloads_do_not_break_pages(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.jobs.push_payload("broken", "not json {")
    redis_client.rpush(resque.keys.failed, "also not json")
    worker = "odd:1:broken"
    redis_client.sadd(resque.keys.workers, worker)
    redis_client.set(resque.keys.worker(worker), "garbage")
    redis_client.hset(resque.keys.heartbeats, worker, "not a time")
    for path in ("/", "/queues", "/queues/broken", "/failed", "/workers", f"/workers/{worker}"):
        page(client, path)
    assert "unreadable" in page(client, "/queues/broken")
    assert client.get("/metrics").status_code == 200


def test_static_assets_are_served_locally(client: FlaskClient) -> None:
    body = page(client, "/")
    for asset in ("/static/dashboard.css", "/static/dashboard.js"):
        assert asset in body
        assert client.get(asset).status_code == 200
    assert "http" not in body.split("<body")[0].replace("http-equiv", "")  # no CDN


def test_filters_match_escaped_and_non_ascii_values(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.rpush(
        resque.keys.failed,
        '{"failed_at":"2026/11/27 18:40:32 UTC","payload":{"class":"Archive","args":[]},'
        '"exception":"Caf\\u00e9Error","error":"say \\"hi\\"","backtrace":[],'
        '"worker":"h:1:q","queue":"q"}',
    )
    assert "say &#34;hi&#34;" in page(client, "/failed?exception=café")
    assert "No record matches" in page(client, "/failed?exception=tea")


def test_active_job_failures_are_shown_and_filtered_by_their_real_class(
    client: FlaskClient, resque: Resque
) -> None:
    wrapped = json.loads(ACTIVE_JOB)
    add_failure(resque, cls=wrapped["class"], args=wrapped["args"], exception="Timeout::Error")
    add_failure(resque, cls="Other")
    body = page(client, "/failed?class=archivejob")
    assert "ArchiveJob" in body and "ActiveJob</span>" in body and "Other" not in body


def test_queue_names_ruby_allows_like_slashes_work(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    redis_client.sadd(resque.keys.queues, "team/a")  # Ruby accepts any queue name
    redis_client.rpush(resque.keys.queue("team/a"), RUBY_JOBS[0])
    assert "branch-0" in page(client, "/queues/team/a")
    assert "Are you sure?" in text_of(post(client, "/queues/team/a/remove"))
    assert post(client, "/queues/team/a/remove", confirm="yes").status_code == 303
    assert resque.queues.names() == []


def test_worker_links_resolve_for_wildcard_and_comma_ids(
    client: FlaskClient, resque: Resque
) -> None:
    for worker in ("web-1:102:*", "web-1:103:high,!low"):
        resque.workers.register(worker)
    body = page(client, "/workers")
    detail = [link for link in links(body, "/workers/") if link != "/workers/pause"]
    assert len(detail) == 2
    for link in detail:
        assert "idle" in page(client, link)


def test_links_follow_a_path_prefix(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("q", "Archive", 1)
    body = text_of(client.get("/queues", base_url="http://localhost/resque"))
    assert 'href="/resque/static/dashboard.css"' in body
    assert 'href="/resque/queues/q"' in body and 'action="/resque/queues/q/remove"' in body


def test_a_page_past_the_end_says_so(client: FlaskClient, resque: Resque) -> None:
    add_failure(resque)
    assert "No records on this page" in page(client, "/failed?page=7")
    assert client.get("/failed?class=x&before=-2").status_code == 400
