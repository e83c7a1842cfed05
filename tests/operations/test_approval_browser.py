"""Approving a batch release in the operations console, in a real browser (Debian's Chromium driven
by Playwright): the plant's rule holds the release of a production lot; the inspector who decided
it finds it on the Approvals page and is refused; the QA lead approves it with a comment; the lot is
released in ERP and the audit names the QA lead via the console. Screenshots under
test-artifacts/screenshots/."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.operations.test_console_browser import CHROMIUM, FLAGS, SHOTS, playwright
from tests.support.http import client
from tests.support.platform import Platform
from tests.support.wait import eventually

CONSOLE_SCOPES = ["operations:read", "quality:read", "quality:approve", "erp:read", "qms:read"]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def production_lot_released_by_the_inspector(platform: Platform, erp: httpx.Client) -> str:
    """A production lot in ERP quality-inspection stock, inspected in QMS and released by the
    inspector's own client; the quality flow then waits for a second person."""
    tag = uuid.uuid4().hex[:6].upper()
    item, lot_id = f"FG-HOUSING-{tag}", f"LOT-FG-{tag}"
    ok(
        erp.post(
            "/erp/v1/items", json={"item_id": item, "description": "Housing", "item_type": "finished_good"}
        ),
        201,
    )
    receipt = {
        "production_order": f"MO-{tag}",
        "item_id": item,
        "quantity": 50,
        "location": "FG",
        "lot_id": lot_id,
        "stock_status": "QUALITY_INSPECTION",
    }
    ok(erp.post("/erp/v1/production-receipts", json=receipt), 201)
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"], client_id="inspector-kim") as qms:
        inspection = {
            "origin": "production",
            "source_ref": f"MO-{tag}",
            "item_id": item,
            "lot_id": lot_id,
            "sample_size": 5,
            "characteristics": [{"code": "VISUAL", "kind": "attribute"}],
        }
        il = ok(qms.post("/qms/v1/inspection-lots", json=inspection), 201)["inspection_lot_id"]
        ok(qms.post(f"/qms/v1/inspection-lots/{il}/start", json={"by": "insp.kim"}))
        results = {"recorded_by": "insp.kim", "results": [{"characteristic": "VISUAL", "conforming": True}]}
        ok(qms.post(f"/qms/v1/inspection-lots/{il}/results", json=results))
        decision = {"code": "A1", "disposition": "release", "decided_by": "insp.kim"}
        ok(qms.post(f"/qms/v1/inspection-lots/{il}/usage-decision", json=decision))
    return lot_id


def log_in(page: playwright.Page, console: str, client_id: str, secret: str) -> None:
    page.goto(f"{console}/login")
    page.fill("input[name=client_id]", client_id)
    page.fill("input[name=client_secret]", secret)
    page.click("button[type=submit]")
    page.wait_for_selector("header .who")


def test_the_qa_lead_approves_a_batch_release_the_inspector_could_not(
    platform: Platform, erp: httpx.Client, quality: httpx.Client
) -> None:
    console = f"{platform.services['operations'].url}/operations/console"
    secrets = {who: platform.register_client(who, CONSOLE_SCOPES) for who in ("inspector-kim", "qa-lead")}
    lot_id = production_lot_released_by_the_inspector(platform, erp)

    def waiting() -> Any:
        found = ok(quality.get("/quality/v1/flows", params={"lot_id": lot_id, "type": "usage_decision"}))
        return next((f for f in found["items"] if f["status"] == "awaiting_approval"), None)

    flow = eventually(waiting)
    approval_id = flow["approval"]["approval_id"]
    row = f"table.approvals tr[data-record='{approval_id}']"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(20_000)
        try:
            # The inspector sees the approval but cannot give it: four eyes.
            log_in(page, console, "inspector-kim", secrets["inspector-kim"])
            page.click("nav >> text=Approvals")
            page.wait_for_selector(row)
            assert f"release of lot {lot_id}" in page.inner_text(row)
            page.click(f"{row} >> button:has-text('Approve')")
            page.wait_for_selector("h1")
            assert "cannot give it" in page.inner_text("main")
            page.screenshot(path=str(SHOTS / "approval-1-inspector-refused.png"), full_page=True)
            page.goto(f"{console}/approvals")
            page.click("button:has-text('Log out')")

            # The QA lead approves it, with a comment.
            log_in(page, console, "qa-lead", secrets["qa-lead"])
            page.goto(f"{console}/approvals")
            page.wait_for_selector(row)
            page.screenshot(path=str(SHOTS / "approval-2-pending.png"), full_page=True)
            page.fill(f"{row} textarea[name=comment]", "Visual check and CoA fine")
            page.click(f"{row} >> button:has-text('Approve')")
            page.wait_for_selector("p.ok[role=status]")
            assert approval_id in page.inner_text("p.ok[role=status]")
            assert page.locator(row).count() == 0
            page.screenshot(path=str(SHOTS / "approval-3-approved.png"), full_page=True)

            # The flow went on: its page shows who approved it; the lot is released in ERP.
            done = eventually(
                lambda: (
                    (f := ok(quality.get(f"/quality/v1/flows/{flow['flow_id']}")))["status"] == "completed"
                    and f
                )
            )
            assert done["approval"]["decided_by"] == "qa-lead via operations-console"
            page.goto(f"{console}/flows/quality/{flow['flow_id']}")
            page.wait_for_selector("dl.approval")
            assert "qa-lead" in page.inner_text("dl.approval")
            page.screenshot(path=str(SHOTS / "approval-4-flow.png"), full_page=True)
            lot = ok(erp.get(f"/erp/v1/lots/{lot_id}"))
            assert [(b["status"], b["quantity"]) for b in lot["balances"]] == [("UNRESTRICTED", 50.0)]

            # The audit names the QA lead, via the console's own client.
            page.goto(f"{console}/audit?record_id={approval_id}")
            page.wait_for_selector("table.audit")
            assert "qa-lead via operations-console" in page.inner_text("table.audit")
            page.screenshot(path=str(SHOTS / "approval-5-audit.png"), full_page=True)
        finally:
            browser.close()
