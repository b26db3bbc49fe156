"""Browser tests: Debian's Chromium driven by Playwright against a real gunicorn.

Screenshots of the main pages land in ``var/screenshots/`` (test artifacts).
Skipped when /usr/bin/chromium is missing, except under CI=true where it must exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from frontend_testkit import GAVE_UP_ID, RETRYING_ID, seed_demo

from resque_proto import Resque

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but /usr/bin/chromium is missing (apt-get install chromium)")
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=20_000)  # generous: the machine is shared and may be loaded


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab that fails the test on any console error (CSP violations included)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == []


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_overview_renders_and_main_pages_are_screenshotted(
    frontend: str, page: Page, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_demo(resque, redis_client)
    page.goto(frontend + "/")
    expect(page).to_have_title("Overview · Resque")
    expect(page.locator(".card .value").first).to_have_text(
        "159"
    )  # 3 + 40 - 6 taken, 5, 120 - 6 taken, 3
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    shoot(page, "overview")
    for path, name in (("/workers", "workers"), ("/failed", "failed"), ("/queues", "queues"),
                       ("/working", "working"), ("/queues/file_serve", "queue"),
                       ("/stats", "stats"), ("/delayed", "delayed"),
                       ("/schedule", "schedule"), (f"/jobs/{GAVE_UP_ID}", "job-failed"),
                       (f"/jobs/{RETRYING_ID}", "job-retrying")):  # fmt: skip
        page.goto(frontend + path)
        expect(page.locator("main h1, main .cards").first).to_be_visible()
        shoot(page, name)
    page.goto(frontend + "/failed")
    page.locator("table.failures a[href^='/failed/']").first.click()
    expect(page.locator("pre.backtrace")).to_contain_text("jobs/archive.py")
    shoot(page, "failure")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(frontend + "/")
    shoot(page, "overview-phone")


def test_live_refresh_updates_a_count_after_an_enqueue(
    frontend: str, page: Page, resque: Resque
) -> None:
    resque.enqueue("file_serve", "Archive", 1)
    page.goto(frontend + "/")
    pending = page.locator(".card .value").first
    expect(pending).to_have_text("1")
    resque.enqueue("file_serve", "Archive", 2)
    expect(pending).to_have_text("2")  # no reload: the live refresh fetched it
    page.locator("[data-live-toggle]").click()
    expect(page.locator("[data-live-status]")).to_have_text("Paused")
    page.reload()
    expect(page.locator("[data-live-toggle]")).to_have_text("Resume")  # remembered


def test_retry_and_confirmed_remove_from_the_failed_page(
    frontend: str, page: Page, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_demo(resque, redis_client)
    records, size = resque.failures.count(), resque.queues.size("reports")
    page.goto(frontend + "/failed")
    row = page.locator("table.failures tbody tr", has_text="WeeklyReport").first
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".notice.ok")).to_contain_text("put back on its queue")
    assert resque.queues.size("reports") == size + 1
    page.goto(frontend + "/failed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.failures tbody tr").first.get_by_role("button", name="Remove").click()
    expect(page.locator(".notice.ok")).to_contain_text("removed")
    assert resque.failures.count() == records - 1


def test_run_now_from_the_delayed_page(
    frontend: str, page: Page, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_demo(resque, redis_client)
    size, delayed = resque.queues.size("reports"), resque.delayed.count()
    page.goto(frontend + "/delayed")
    row = page.locator("table.delayed tbody tr", has_text="WeeklyReport").first
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Run now").click()
    expect(page.locator(".notice.ok")).to_contain_text("put on their queues now")
    assert resque.queues.size("reports") == size + 1
    assert resque.delayed.count() == delayed - 1
    expect(page.locator("table.delayed tbody tr", has_text="WeeklyReport")).to_have_count(5)


def test_without_javascript_the_server_asks_for_confirmation(
    frontend: str, browser: Browser, resque: Resque
) -> None:
    resque.enqueue("doomed", "Archive", 1)
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(frontend + "/queues")
    tab.get_by_role("button", name="Remove").click()
    expect(tab.locator("h1")).to_have_text("Are you sure?")
    assert resque.queues.names() == ["doomed"]
    tab.get_by_role("button", name="Remove queue").click()
    expect(tab.locator(".notice.ok")).to_contain_text("removed")
    assert resque.queues.names() == []
    context.close()


def test_pause_then_resume_a_queue(
    frontend: str, page: Page, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_demo(resque, redis_client)  # "reports" is paused already
    page.goto(frontend + "/queues")
    row = page.locator("table.grid tbody tr", has_text="low")
    expect(row.locator(".badge.paused")).to_have_count(0)
    row.get_by_role("button", name="Pause").click()  # no confirmation: nothing is lost
    expect(page.locator(".notice.ok")).to_contain_text("The queue is paused")
    expect(page).to_have_title("Queues · Resque")  # back on the list
    expect(row.locator(".badge.paused")).to_have_text("paused")
    assert resque.queues.paused() == {"low", "reports"}
    shoot(page, "queues-paused")
    row.get_by_role("link", name="low").click()
    expect(page.locator("h1 .badge.paused")).to_be_visible()
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".notice.ok")).to_contain_text("workers take jobs from it again")
    expect(page).to_have_title("low · Resque")  # back on the queue's page
    expect(page.locator("h1 .badge.paused")).to_have_count(0)
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert resque.queues.paused() == {"reports"}


def test_job_lookup_form_and_the_retry_on_the_delayed_page(
    frontend: str, page: Page, resque: Resque, redis_client: redis.Redis
) -> None:
    seed_demo(resque, redis_client)
    page.goto(frontend + "/delayed")
    row = page.locator("table.delayed tbody tr", has_text="Thumbnail")
    expect(row.locator(".badge.retry")).to_have_text("retry: attempt 2 of 4")
    page.goto(frontend + "/jobs")
    page.get_by_label("Job id").fill(RETRYING_ID)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("h1 .badge")).to_have_text("scheduled")
    expect(page.locator("main")).to_contain_text("a retry, waiting for its next run")
    page.locator("dd a[href^='/delayed/']").click()
    expect(page.locator("table.grid .badge.retry")).to_have_text("retry: attempt 2 of 4")
