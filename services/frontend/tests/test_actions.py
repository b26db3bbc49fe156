"""Every state change: POST with CSRF, redirect-after-post, records addressed exactly."""

from __future__ import annotations

import base64
import re

import redis
from flask.testing import FlaskClient
from frontend_testkit import (
    RUBY_FAILURE,
    RUBY_RETRIED,
    AppFactory,
    add_failure,
    csrf,
    post,
    seed_ruby,
    text_of,
)

from resque_proto import Resque
from resque_proto.records import failure_id


def record_url(index: int, raw: str) -> str:
    return f"/failed/{index}/{failure_id(raw)}"


def test_retry_pushes_the_job_back_and_marks_the_record(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    response = post(client, record_url(1, RUBY_FAILURE) + "/retry")
    assert response.status_code == 303
    assert "notice=retried" in response.headers["Location"]
    assert resque.queues.peek("file_serve")[-1].raw == '{"class":"FailingArchive","args":[4242]}'
    record = resque.failures.get(1)
    assert record is not None and record.retried_at
    assert "retried" in text_of(client.get(response.headers["Location"]))


def test_remove_asks_for_confirmation_then_removes_exactly_that_record(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    url = record_url(1, RUBY_FAILURE) + "/remove"
    asked = post(client, url)
    assert asked.status_code == 200 and "Are you sure?" in text_of(asked)
    assert resque.failures.count() == 2
    done = post(client, url, confirm="yes")
    assert done.status_code == 303
    assert [f.raw for f in resque.failures.all()] == [RUBY_RETRIED]


def test_a_record_that_moved_is_still_found_by_its_id(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    url = record_url(1, RUBY_FAILURE)  # the page showed it at index 1 ...
    resque.failures.remove(RUBY_RETRIED)  # ... then someone removed the record before it
    assert post(client, url + "/remove", confirm="yes").status_code == 303
    assert resque.failures.count() == 0


def test_a_changed_or_removed_record_is_never_touched(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    """Resque #1293: the list changed under the page; nothing else may be hit."""
    seed_ruby(resque, redis_client)
    stale_url = record_url(1, RUBY_FAILURE)
    resque.failures.remove(RUBY_FAILURE)
    other = add_failure(resque, cls="Innocent")  # now at index 1
    for action in ("/retry", "/remove"):
        response = post(client, stale_url + action, confirm="yes")
        assert response.status_code == 303
        assert "notice=moved" in response.headers["Location"]
        assert "moved or changed" in text_of(client.get(response.headers["Location"]))
    assert [f.raw for f in resque.failures.all()] == [RUBY_RETRIED, other]
    assert resque.queues.size("file_serve") == 3  # nothing was retried
    assert client.get(stale_url).status_code == 404


def test_retrying_twice_from_the_same_page_is_refused_the_second_time(
    client: FlaskClient, resque: Resque
) -> None:
    raw = add_failure(resque, queue="q", args=[7])
    url = record_url(0, raw) + "/retry"
    assert "notice=retried" in post(client, url).headers["Location"]
    assert "notice=moved" in post(client, url).headers["Location"]
    assert resque.queues.size("q") == 1


def test_retry_all_clear_retried_and_clear(client: FlaskClient, resque: Resque) -> None:
    for n in range(3):
        add_failure(resque, queue="q", args=[n])
    assert post(client, "/failed/retry-all").status_code == 200  # confirmation page
    assert resque.queues.size("q") == 0
    response = post(client, "/failed/retry-all", confirm="yes")
    assert "n=3" in response.headers["Location"]
    assert resque.queues.size("q") == 3
    add_failure(resque, queue="q", args=[99])
    assert "n=3" in post(client, "/failed/clear-retried", confirm="yes").headers["Location"]
    assert resque.failures.count() == 1
    assert "n=1" in post(client, "/failed/clear", confirm="yes").headers["Location"]
    assert resque.failures.count() == 0


def test_retry_all_honours_the_filter_and_skips_retried_records(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    """Retry all on a filtered list: only the matching records, never one retried already."""
    seed_ruby(resque, redis_client)  # RUBY_RETRIED (queue low), RUBY_FAILURE (file_serve)
    before = resque.queues.size("file_serve")
    for n in range(3):
        add_failure(resque, queue="q", cls="Archive", args=[n], exception="Timeout::Error")
    add_failure(resque, queue="q", cls="Thumbnail", args=[9], exception="Timeout::Error")
    add_failure(resque, queue="other", cls="Archive", args=[7], exception="Timeout::Error")
    resque.failures.retry(2, resque.failures.all()[2].raw)  # Archive [0] was retried once
    wanted = {"queue": "q", "class": "archive", "exception": "timeout"}
    response = post(client, "/failed/retry-all", confirm="yes", **wanted)
    assert response.status_code == 303
    assert "n=2" in response.headers["Location"]
    assert "queue=q" in response.headers["Location"]  # back to the filtered list
    assert [job.args for job in resque.queues.peek("q", 0, 10)] == [[0], [1], [2]]
    assert resque.queues.size("other") == 0  # another queue: not matched
    assert resque.queues.size("low") == 0  # Ruby's retried record: not retried again
    assert resque.queues.size("file_serve") == before  # not matched
    # Without a filter: every record not retried yet, each once.
    assert "n=3" in post(client, "/failed/retry-all", confirm="yes").headers["Location"]
    assert resque.queues.size("low") == 0
    assert resque.queues.size("q") == 4 and resque.queues.size("other") == 1
    assert resque.queues.size("file_serve") == before + 1


def test_retry_all_on_a_filtered_page_asks_about_the_filter_and_keeps_it(
    client: FlaskClient, resque: Resque
) -> None:
    """With JavaScript the page's form carries the filter; without, the server's
    confirmation page carries it on to the confirmed POST."""
    for queue in ("q", "q", "other"):
        add_failure(resque, queue=queue, exception="Timeout::Error")
    page = text_of(client.get("/failed?queue=q&exception=Timeout"))
    form = page[page.index('action="/failed/retry-all"') :].split("</form>")[0]
    assert 'name="queue" value="q"' in form and 'name="exception" value="Timeout"' in form
    asked = post(client, "/failed/retry-all", queue="q", exception="Timeout")
    assert asked.status_code == 200 and "Are you sure?" in text_of(asked)
    assert "queue q" in text_of(asked)
    confirm = text_of(asked).split('class="panel confirm"')[1].split("</form>")[0]
    assert 'name="queue" value="q"' in confirm and 'name="exception" value="Timeout"' in confirm
    assert resque.queues.size("q") == 0
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', confirm))
    response = client.post("/failed/retry-all", data=fields)
    assert "n=2" in response.headers["Location"]
    assert resque.queues.size("q") == 2 and resque.queues.size("other") == 0


def test_remove_queue(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("doomed", "Archive", 1)
    resque.enqueue("kept", "Archive", 1)
    assert "Are you sure?" in text_of(post(client, "/queues/doomed/remove"))
    response = post(client, "/queues/doomed/remove", confirm="yes")
    assert response.status_code == 303
    assert resque.queues.names() == ["kept"]
    assert "1 waiting jobs were removed" in text_of(client.get(response.headers["Location"]))


def test_pause_and_resume_all_workers(client: FlaskClient, resque: Resque) -> None:
    assert post(client, "/workers/pause").status_code == 303
    assert resque.stats.paused()
    assert "Workers are paused" in text_of(client.get("/"))
    assert post(client, "/workers/resume").status_code == 303
    assert not resque.stats.paused()


def test_csrf_missing_wrong_or_cross_site_is_refused(client: FlaskClient, resque: Resque) -> None:
    resque.enqueue("q", "Archive", 1)
    token = csrf(client)
    refusals = [
        client.post("/queues/q/remove", data={"confirm": "yes"}),
        client.post("/queues/q/remove", data={"confirm": "yes", "csrf_token": token + "x"}),
        client.post(
            "/queues/q/remove",
            data={"confirm": "yes", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        ),
    ]
    for response in refusals:
        assert response.status_code == 403
        assert "nothing was changed" in text_of(response)
    assert resque.queues.size("q") == 1
    fresh = client.application.test_client()  # a token without the matching cookie
    assert (
        fresh.post("/queues/q/remove", data={"confirm": "yes", "csrf_token": token}).status_code
        == 403
    )
    assert resque.queues.size("q") == 1


def test_csrf_cookie_is_strict_and_http_only(client: FlaskClient) -> None:
    response = client.get("/failed")
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_read_only_mode_hides_and_refuses_changes(
    make_app: AppFactory, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)
    client = make_app(read_only=True).test_client()
    body = text_of(client.get("/failed"))
    assert "/retry" not in body and "read-only" in body
    response = post(client, record_url(1, RUBY_FAILURE) + "/retry")
    assert response.status_code == 403
    assert resque.failures.count() == 2 and resque.queues.size("file_serve") == 3


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth_protects_pages_but_not_probes_or_metrics(make_app: AppFactory) -> None:
    client = make_app(auth_user="ops", auth_password="pw").test_client()
    denied = client.get("/")
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", headers=basic("ops", "wrong")).status_code == 401
    assert client.get("/", headers=basic("ops", "pw")).status_code == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200
    assert client.post("/workers/pause").status_code == 401


def test_token_auth_by_bearer_or_as_basic_password(make_app: AppFactory) -> None:
    client = make_app(auth_token="t0ken").test_client()
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    assert client.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/", headers=basic("anyone", "t0ken")).status_code == 200
    assert client.get("/", headers={"Authorization": "Basic %%%"}).status_code == 401


def test_clear_retried_removes_ruby_retried_records_too(
    client: FlaskClient, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_ruby(resque, redis_client)  # Ruby's retried record, then an unretried one
    assert "n=1" in post(client, "/failed/clear-retried", confirm="yes").headers["Location"]
    assert [f.raw for f in resque.failures.all()] == [RUBY_FAILURE]
