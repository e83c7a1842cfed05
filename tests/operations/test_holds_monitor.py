"""The "holds not in ERP" monitor over a real ERP outage: a lot blocked in QMS while ERP is down is
listed until ERP is back and the quality flow has posted the block, then it clears."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.support.http import auth_headers
from tests.support.platform import Platform
from tests.support.quality import (
    balances,
    decide,
    inspection_lot_for,
    receive_inspected_goods,
)
from tests.support.wait import eventually

HOLDS = "/operations/v1/monitors/holds-not-in-erp"


def listed(monitors: httpx.Client, lot_id: str) -> dict[str, Any] | None:
    page = monitors.get(HOLDS, params={"limit": 500})
    assert page.status_code == 200, page.text
    body = page.json()
    return next((dict(item, page=body) for item in body["items"] if item["record_id"] == lot_id), None)


def complete_page(monitors: httpx.Client) -> dict[str, Any] | None:
    page: dict[str, Any] = monitors.get(HOLDS).json()
    return page if page["complete"] else None


def flow_completed(quality: httpx.Client, lot_id: str) -> bool:
    params = {"lot_id": lot_id, "type": "usage_decision"}
    [flow] = quality.get("/quality/v1/flows", params=params).json()["items"]
    if flow["status"] == "stalled":
        assert quality.post(f"/quality/v1/flows/{flow['flow_id']}/retry").status_code == 200
    return bool(flow["status"] == "completed")


def gauge(operations_url: str, monitor: str) -> float:
    text = httpx.get(f"{operations_url}/metrics").text
    found = re.search(rf'plantbridge_monitor_offending_records\{{monitor="{monitor}"\}} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else -1.0


def test_a_block_made_while_erp_is_down_is_listed_until_the_flow_posts_it(
    platform: Platform, monitors: httpx.Client, erp: httpx.Client, qms: httpx.Client, quality: httpx.Client
) -> None:
    correlation_id = f"corr-ops-hold-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot_id = receipt["lot_id"]
    inspection = eventually(lambda: inspection_lot_for(qms, lot_id))
    assert listed(monitors, lot_id) is None  # in inspection: nothing decided yet

    erp_process = platform.services["erp"]
    erp_process.kill()
    try:
        decide(qms, inspection, passed=False, disposition="block", correlation_id=correlation_id)
        offender = eventually(lambda: listed(monitors, lot_id))
        assert offender["record_type"] == "lot"
        assert offender["details"]["inspection_lot_id"] == inspection["inspection_lot_id"]
        assert offender["details"]["disposition"] == "block"
        assert offender["links"]["erp"] == f"/erp/v1/lots/{lot_id}"
        assert offender["links"]["flows"] == f"/quality/v1/flows?lot_id={lot_id}"
        page = offender["page"]
        assert page["complete"] is False
        assert [w["source"] for w in page["warnings"]] == ["erp"]
        # Still listed while ERP stays down (the flow keeps retrying), and the gauge says so.
        assert listed(monitors, lot_id) is not None
        assert eventually(lambda: gauge(platform.services["operations"].url, "holds-not-in-erp") >= 1)
    finally:
        erp_process.start()

    # The flow retries with backoff; if the outage outlasted its attempts it stalled, and an
    # operator retries it (as the console's Retry button does).
    eventually(lambda: flow_completed(quality, lot_id), timeout=60)
    assert balances(erp, lot_id) == {"BLOCKED": 60.0}
    eventually(lambda: listed(monitors, lot_id) is None, timeout=40)
    # Complete again once every upstream answers: on the first page after the restart one may
    # still be refused by a circuit breaker that opened during the outage, or be slow under load.
    page = eventually(lambda: complete_page(monitors), timeout=30)
    assert page["warnings"] == []
    # ... and the flow completes: QMS learns that the stock is posted.
    inspection_url = f"/qms/v1/inspection-lots/{inspection['inspection_lot_id']}"
    eventually(lambda: qms.get(inspection_url).json()["status"] == "stock_posted")


def test_erp_unblocking_a_held_lot_behind_qms_back_is_listed(
    monitors: httpx.Client, erp: httpx.Client, qms: httpx.Client
) -> None:
    """Drift after the flow: someone unblocks the stock in ERP directly; QMS still says block."""
    correlation_id = f"corr-ops-drift-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot_id = receipt["lot_id"]
    inspection = eventually(lambda: inspection_lot_for(qms, lot_id))
    decide(qms, inspection, passed=False, disposition="block", correlation_id=correlation_id)
    eventually(lambda: balances(erp, lot_id) == {"BLOCKED": 60.0})
    eventually(lambda: listed(monitors, lot_id) is None)
    location = erp.get(f"/erp/v1/lots/{lot_id}").json()["balances"][0]["location"]
    unblocked = erp.post(
        "/erp/v1/inventory-transactions",
        json={
            "type": "unblock",
            "lot_id": lot_id,
            "quantity": 60,
            "location": location,
            # Someone with the quality scope names a disposition QMS never made.
            "quality_ref": {"kind": "nonconformance", "record_id": "NC-BOGUS", "disposition": "use_as_is"},
        },
        headers=auth_headers(["erp:read", "erp:write", "erp:release"]),
    )
    assert unblocked.status_code == 201, unblocked.text
    offender = eventually(lambda: listed(monitors, lot_id))
    assert "60 not BLOCKED in ERP" in offender["summary"]
    assert {"location": location, "status": "UNRESTRICTED", "quantity": 60.0} in offender["details"][
        "erp_balances"
    ]
