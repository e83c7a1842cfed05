"""The operations console in a real browser (Debian's Chromium driven by Playwright): log in with
a client registered at the gateway, find a flow by lot number, open its timeline, and replay a real
dead letter. Every page visited is saved as a screenshot under test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from contracts.kit.consumer import dead_letter_stream
from contracts.kit.relay import FIELD_EVENT, FIELD_ID, FIELD_TYPE
from tests.support.fixtures import ARTIFACTS
from tests.support.platform import Platform
from tests.support.quality import inspection_lot_for, receive_inspected_goods
from tests.support.wait import eventually

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ARTIFACTS / "screenshots"
CONSOLE_SCOPES = [
    *("operations:read", "quality:read", "quality:write", "events:read", "events:replay"),
    *("erp:read", "qms:read"),
]


@pytest.fixture(scope="module")
def browser_page() -> Iterator[playwright.Page]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def shot(page: playwright.Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def poison_dead_letter(platform: Platform) -> tuple[str, str]:
    """An event the quality consumer cannot read: it goes straight to events.qms.dlq."""
    event_id = f"poison-{uuid.uuid4().hex[:10]}"
    redis = Redis.from_url(platform.redis_url)
    try:
        redis.xadd(
            "events.qms",
            {FIELD_ID: event_id, FIELD_TYPE: "qms.usage_decision.made.v1", FIELD_EVENT: b"{not json"},
        )

        def dead() -> str | None:
            for entry_id, fields in redis.xrange(dead_letter_stream("events.qms")):
                if fields.get(FIELD_ID.encode()) == event_id.encode():
                    return entry_id.decode()
            return None

        return event_id, eventually(dead)
    finally:
        redis.close()


def still_dead(platform: Platform, dead_letter_id: str) -> bool:
    redis = Redis.from_url(platform.redis_url)
    try:
        return bool(redis.xrange(dead_letter_stream("events.qms"), min=dead_letter_id, max=dead_letter_id))
    finally:
        redis.close()


def test_log_in_find_a_flow_by_lot_open_its_timeline_and_replay_a_dead_letter(
    platform: Platform, erp: httpx.Client, qms: httpx.Client, browser_page: playwright.Page
) -> None:
    page = browser_page
    console = f"{platform.services['operations'].url}/operations/console"
    secret = platform.register_client("console-tester", CONSOLE_SCOPES)
    receipt = receive_inspected_goods(erp, f"corr-console-{uuid.uuid4().hex[:8]}")
    lot_id = receipt["lot_id"]
    eventually(lambda: inspection_lot_for(qms, lot_id))
    event_id, dead_letter_id = poison_dead_letter(platform)

    # Not logged in: every page leads to the login form.
    page.goto(f"{console}/")
    assert page.url.endswith("/operations/console/login")
    shot(page, "1-login")
    page.fill("input[name=client_id]", "console-tester")
    page.fill("input[name=client_secret]", "not-the-secret")
    page.click("button[type=submit]")
    assert "Unknown client id or wrong secret" in page.inner_text("p.error")
    page.fill("input[name=client_id]", "console-tester")
    page.fill("input[name=client_secret]", secret)
    page.click("button[type=submit]")

    # The monitors, with the dead letter among them.
    page.wait_for_selector("h1:has-text('Monitors')")
    assert page.inner_text("header .who") == "console-tester"
    assert page.locator(f"#dead-letters tr[data-record='events.qms/{dead_letter_id}']").count() == 1
    shot(page, "2-monitors")

    # Find the flow by lot number, open its timeline.
    page.click("nav >> text=Flows")
    page.select_option("select[name=by]", "lot_id")
    page.fill("input[name=value]", lot_id)
    page.click("form.search button")
    page.wait_for_selector("table.flows")
    shot(page, "3-flow-search")
    page.click("table.flows >> text=FLOW-")
    page.wait_for_selector("table.timeline")
    assert "receipt_inspection" in page.inner_text("dl.facts")
    timeline = page.inner_text("table.timeline")
    assert "completed" in timeline or "flow_completed" in timeline
    shot(page, "4-flow-timeline")

    # Dead letters: inspect, then replay to the group that failed it.
    page.click("nav >> text=Dead letters")
    page.wait_for_selector(f"text={dead_letter_id}")
    shot(page, "5-dead-letters")
    page.click(f"text={dead_letter_id}")
    page.wait_for_selector("h1:has-text('Dead letter')")
    assert event_id in page.inner_text("dl.facts")
    assert "undecodable" in page.inner_text("dd.error")
    shot(page, "6-dead-letter")
    page.click("button:has-text('Replay to quality')")
    page.wait_for_selector("p.ok[role=status]")
    assert event_id in page.inner_text("p.ok[role=status]")
    assert not still_dead(platform, dead_letter_id)
    shot(page, "7-replayed")

    # The audit history of the lot (ERP and QMS, as far as their audit trails answer).
    page.goto(f"{console}/audit?record_id={lot_id}")
    page.wait_for_selector("h1:has-text('Audit history')")
    shot(page, "8-audit")

    page.click("button:has-text('Log out')")
    assert page.url.endswith("/operations/console/login")
    page.goto(f"{console}/dead-letters")
    assert page.url.endswith("/operations/console/login")


def test_a_form_post_without_the_session_csrf_token_is_refused(platform: Platform) -> None:
    console = f"{platform.services['operations'].url}/operations/console"
    with httpx.Client() as http:
        login = http.get(f"{console}/login")
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        forged = http.post(f"{console}/login", data={"client_id": "x", "client_secret": "y", "csrf": "guess"})
        assert forged.status_code == 403
        foreign = http.post(
            f"{console}/dead-letters/events.qms/1-0/replay",
            data={"csrf": "x"},
            headers={"Origin": "https://evil"},
        )
        assert foreign.status_code in (303, 403)  # not logged in, and not from this site either way
        assert http.get(f"{console}/flows/quality/%3Cscript%3E").status_code in (303, 400)
