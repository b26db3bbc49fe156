"""Ruby's redis_multi_queue failure lists on the dashboard and /metrics, queue-scoped
failure actions and the oldest-first order, on a real Redis."""

from __future__ import annotations

import re

import redis
from flask.testing import FlaskClient
from frontend_testkit import (
    RUBY_FAILURE,
    RUBY_MULTI_RETRIED,
    AppFactory,
    add_failure,
    links,
    post,
    ruby_multi_queue_fail,
    text_of,
)
from test_metrics import scrape

from resque_proto import Resque
from resque_proto.records import failure_id

LOW = [RUBY_MULTI_RETRIED.replace('"args":[1]', f'"args":[{n}]') for n in range(3)]
LOW_FRESH = [record.split(',"retried_at"')[0] + "}" for record in LOW]  # not retried yet


def shown_args(body: str) -> list[int]:
    """The single integer argument of each job listed, in page order."""
    return [int(n) for n in re.findall(r'<code class="args" title="\d+">\((\d+)\)</code>', body)]


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    body: str = text_of(response)
    return body


def test_failed_page_lists_the_multi_queue_lists_and_shows_each(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    add_failure(resque, queue="high")
    ruby_multi_queue_fail(redis_client, RUBY_FAILURE, *LOW_FRESH)
    body = page(client, "/failed")
    assert "Failure lists" in body
    assert "/failed?list=file_serve_failed" in body and "/failed?list=low_failed" in body
    rows = re.findall(r'list=(\w+)">\w+</a>.*?<td>(\w+)</td><td class="right">(\d+)<', body)
    assert rows == [("file_serve_failed", "file_serve", "1"), ("low_failed", "low", "3")]

    low = page(client, "/failed?list=low_failed")
    assert "Failed jobs of queue low" in low and "3 records, newest first" in low
    assert shown_args(low) == [2, 1, 0]
    detail = [link for link in links(low, "/failed/") if link.endswith("list=low_failed")]
    assert f"/failed/2/{failure_id(LOW_FRESH[2])}?list=low_failed" in detail
    record = page(client, f"/failed/2/{failure_id(LOW_FRESH[2])}?list=low_failed")
    assert "SleepJob" in record and 'name="list" value="low_failed"' in record


def test_a_list_that_is_no_failure_list_is_a_404(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    resque.enqueue("low", "Archive", 1)
    assert client.get("/failed?list=queue:low").status_code == 404
    response = post(client, "/failed/clear", list="queue:low", confirm="yes")
    assert response.status_code == 404
    assert resque.queues.size("low") == 1


def test_retry_and_remove_a_record_of_a_multi_queue_list(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    ruby_multi_queue_fail(redis_client, *LOW_FRESH)
    url = f"/failed/1/{failure_id(LOW_FRESH[1])}"
    retried = post(client, url + "/retry", list="low_failed")
    assert retried.status_code == 303 and "list=low_failed" in retried.headers["Location"]
    assert [job.args for job in resque.queues.peek("low", 0, 10)] == [[1]]
    assert resque.failures.for_queue("low").page(1, 1)[0].retried_at
    assert resque.failures.count() == 0  # the failed list is untouched

    url = f"/failed/0/{failure_id(LOW_FRESH[0])}/remove"
    asked = post(client, url, list="low_failed")
    assert asked.status_code == 200 and 'name="list" value="low_failed"' in text_of(asked)
    assert post(client, url, list="low_failed", confirm="yes").status_code == 303
    assert resque.failures.for_queue("low").count() == 2


def test_clear_all_on_a_multi_queue_list_clears_only_that_list(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    add_failure(resque, queue="low")
    ruby_multi_queue_fail(redis_client, RUBY_FAILURE, *LOW_FRESH)
    done = post(client, "/failed/clear", list="low_failed", confirm="yes")
    assert done.status_code == 303 and "n=3" in done.headers["Location"]
    assert resque.failures.for_queue("low").count() == 0
    assert resque.failures.count() == 1 and resque.failures.for_queue("file_serve").count() == 1


def test_queue_buttons_retry_a_queues_failures_in_both_layouts_once(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    add_failure(resque, queue="low", args=[10])
    add_failure(resque, queue="high", args=[11])
    ruby_multi_queue_fail(redis_client, LOW_FRESH[0], LOW[1], RUBY_FAILURE)
    for url in ("/failed?queue=low", "/failed?list=low_failed"):
        body = page(client, url)
        assert "/failed/queues/low/retry" in body and "/failed/queues/low/clear" in body
    assert "/failed/queues/" not in page(client, "/failed")

    asked = post(client, "/failed/queues/low/retry")
    assert asked.status_code == 200 and "Are you sure?" in text_of(asked)
    assert resque.queues.size("low") == 0
    done = post(client, "/failed/queues/low/retry", confirm="yes")
    assert done.status_code == 303
    assert "n=2" in done.headers["Location"] and "queue=low" in done.headers["Location"]
    assert sorted(job.args[0] for job in resque.queues.peek("low", 0, 10)) == [0, 10]
    assert resque.queues.size("high") == 0 and resque.queues.size("file_serve") == 0
    post(client, "/failed/queues/low/retry", confirm="yes")
    assert resque.queues.size("low") == 2  # retried records are never pushed again


def test_queue_clear_deletes_a_queues_failures_in_both_layouts(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    add_failure(resque, queue="low")
    kept = add_failure(resque, queue="high")
    ruby_multi_queue_fail(redis_client, *LOW_FRESH, RUBY_FAILURE)
    assert post(client, "/failed/queues/low/clear").status_code == 200  # asks first
    assert resque.failures.for_queue("low").count() == 3
    done = post(client, "/failed/queues/low/clear", confirm="yes")
    assert done.status_code == 303 and "n=4" in done.headers["Location"]
    assert [f.raw for f in resque.failures.all()] == [kept]
    assert resque.failures.for_queue("low").count() == 0
    assert resque.failures.for_queue("file_serve").count() == 1


def test_queue_actions_are_hidden_and_refused_read_only_and_need_csrf(
    make_app: AppFactory, client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    ruby_multi_queue_fail(redis_client, *LOW_FRESH)
    read_only = make_app(read_only=True).test_client()
    body = page(read_only, "/failed?list=low_failed")
    assert "/failed/queues/" not in body and "/retry" not in body
    assert post(read_only, "/failed/queues/low/clear", confirm="yes").status_code == 403
    assert post(read_only, "/failed/queues/low/retry", confirm="yes").status_code == 403
    forged = client.post("/failed/queues/low/clear", data={"confirm": "yes"})
    assert forged.status_code == 403
    assert resque.failures.for_queue("low").count() == 3 and resque.queues.size("low") == 0


def test_oldest_first_listing_plain_and_filtered(client: FlaskClient, resque: Resque) -> None:
    for n in range(30):
        add_failure(resque, args=[n], queue="a" if n % 3 == 0 else "b")
    body = page(client, "/failed?order=oldest")
    assert "30 records, oldest first" in body
    shown = shown_args(body)
    assert shown == list(range(25))
    older = page(client, "/failed?order=oldest&page=1")
    assert shown_args(older) == list(range(25, 30))
    newest = page(client, "/failed")
    assert shown_args(newest)[:2] == [29, 28]

    from resque_frontend import failed

    original = failed.SCAN_LIMIT, failed.SCAN_CHUNK
    failed.SCAN_LIMIT, failed.SCAN_CHUNK = 6, 4
    try:
        first = page(client, "/failed?queue=a&order=oldest")
        assert shown_args(first) == [0, 3, 6]  # two chunks of 4 reach the limit of 6
        nxt = [link for link in links(first, "/failed?") if "after=" in link]
        assert nxt and "order=oldest" in nxt[-1] and "queue=a" in nxt[-1]
        second = page(client, nxt[-1])
        assert "after=8" in nxt[-1] and shown_args(second) == [9, 12, 15]
    finally:
        failed.SCAN_LIMIT, failed.SCAN_CHUNK = original


def test_metrics_count_the_multi_queue_lists(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    add_failure(resque, queue="high")
    ruby_multi_queue_fail(redis_client, RUBY_FAILURE, *LOW)
    redis_client.sadd("resque:failed_queues", "gone_failed")  # Ruby's remove_queue keeps it
    values = scrape(client)
    assert values[("resque_failed_jobs", ())] == 5
    assert values[("resque_failed_queue_jobs", (("queue", "low"),))] == 3
    assert values[("resque_failed_queue_jobs", (("queue", "file_serve"),))] == 1
    assert values[("resque_failed_queue_jobs", (("queue", "gone"),))] == 0
    assert ("resque_failed_queue_jobs", (("queue", "high"),)) not in values
