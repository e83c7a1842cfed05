"""One correlation id followed through the audit trails of ERP and QMS and the quality flow's
timeline: a failed inspection is blocked in QMS, the quality flow blocks the stock in ERP, and
each system's audit trail says who did it, why (the flow and the event behind it) and what
changed. Gateway, ERP, QMS and the quality process each run as their own process; nothing is
mocked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.topology import by_name
from tests.support.http import client
from tests.support.platform import Platform
from tests.support.quality import (
    balances,
    decide,
    inspection_lot_for,
    receive_inspected_goods,
)
from tests.support.wait import eventually

QUALITY_CLIENT = by_name("quality").client_id


@pytest.fixture(scope="module")
def platform(launch, database_url, redis_server) -> Iterator[Platform]:
    p = Platform(launch, database_url, "sqlite", "audit_e2e", redis_server.url)
    p.start_gateway()
    for name in ("erp", "qms"):
        p.start(name)
    p.start(
        "quality",
        **p.own_client("quality"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        flow_max_backoff_seconds="1",
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def erp(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["erp"], scopes=["erp:read", "erp:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def qms(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def quality(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["quality"], scopes=["quality:read"]) as http:
        yield http


def trail(http: httpx.Client, api: str, correlation_id: str) -> list[dict[str, Any]]:
    response = http.get(f"{api}/audit", params={"correlation_id": correlation_id, "limit": 500})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def flow_of(quality: httpx.Client, lot_id: str, flow_type: str) -> dict[str, Any] | None:
    flows = quality.get("/quality/v1/flows", params={"lot_id": lot_id, "type": flow_type}).json()["items"]
    return next((f for f in flows if f["status"] == "completed"), None)


def test_one_correlation_id_through_erp_qms_and_the_flow_timeline(platform, erp, qms, quality) -> None:
    correlation_id = f"corr-audit-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot_id = receipt["lot_id"]
    inspection = eventually(lambda: inspection_lot_for(qms, lot_id))
    decide(qms, inspection, passed=False, disposition="block", correlation_id=correlation_id)
    eventually(lambda: balances(erp, lot_id) == {"BLOCKED": 60.0})
    receipt_flow = eventually(lambda: flow_of(quality, lot_id, "receipt_inspection"))
    block_flow = eventually(lambda: flow_of(quality, lot_id, "usage_decision"))
    decision_event = next(
        e
        for e in platform.events("events.qms")
        if e.type == "qms.usage_decision.made.v1" and e.correlationid == correlation_id
    )

    # ERP: the receipt (by the caller), then the block, made by the quality flow's step and
    # caused by QMS's usage-decision event.
    erp_trail = trail(erp, "/erp/v1", correlation_id)
    received = next(e for e in erp_trail if e["record_type"] == "lots" and e["action"] == "created")
    assert received["record_id"] == lot_id
    assert received["actor"]["client_id"] == "test-client"
    assert received["flow_id"] is None
    blocked = [e for e in erp_trail if e["record_type"] == "lots" and e["action"] == "updated"]
    assert len(blocked) == 1
    block = blocked[0]
    assert block["record_id"] == lot_id
    assert {k: (v["before"], v["after"]) for k, v in block["changes"].items()} == {
        "balances[WH1/QUALITY_INSPECTION].quantity": (60.0, 0.0),
        "balances[WH1/BLOCKED].quantity": (None, 60.0),
    }
    assert block["actor"]["client_id"] == QUALITY_CLIENT
    assert block["flow_id"] == block_flow["flow_id"]
    assert block["causation_id"] == decision_event.id
    movements = {
        e["changes"]["type"]["after"]: e["flow_id"]
        for e in erp_trail
        if e["record_type"] == "inventory_transactions"
    }
    assert movements == {"receipt": None, "block": block_flow["flow_id"]}

    # QMS: the inspection lot opened by the receipt flow, the decision made by the inspector,
    # then the nonconformance, the supplier case and "stock posted" made by the block flow.
    qms_trail = trail(qms, "/qms/v1", correlation_id)
    lot_history = [e for e in qms_trail if e["record_id"] == inspection["inspection_lot_id"]]
    assert (lot_history[0]["action"], lot_history[0]["flow_id"]) == ("created", receipt_flow["flow_id"])
    assert lot_history[0]["actor"]["client_id"] == QUALITY_CLIENT
    status = [
        (e["changes"]["status"]["after"], e["flow_id"]) for e in lot_history[1:] if "status" in e["changes"]
    ]
    assert status == [
        ("in_inspection", None),
        ("results_recorded", None),
        ("decided", None),
        ("stock_posted", block_flow["flow_id"]),
    ]
    decided = next(e for e in lot_history if e["changes"].get("status", {}).get("after") == "decided")
    assert decided["actor"]["client_id"] == "test-client"
    made_by_flow = {e["record_type"] for e in qms_trail if e["flow_id"] == block_flow["flow_id"]}
    assert {"inspection_lots", "nonconformances", "supplier_cases"} <= made_by_flow
    assert {e["correlation_id"] for e in erp_trail + qms_trail} == {correlation_id}

    # The flow: its timeline carries the same correlation id, and its id finds its changes.
    timeline = quality.get(f"/quality/v1/flows/{block_flow['flow_id']}/timeline")
    assert timeline.status_code == 200, timeline.text
    assert timeline.json()["correlation_id"] == correlation_id
    assert "completed" in [e["kind"] for e in timeline.json()["entries"]]
    by_flow = erp.get("/erp/v1/audit", params={"flow_id": block_flow["flow_id"]}).json()["items"]
    assert {e["audit_id"] for e in by_flow} == {
        e["audit_id"] for e in erp_trail if e["flow_id"] == block_flow["flow_id"]
    }
