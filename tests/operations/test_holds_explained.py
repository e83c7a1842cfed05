"""A nonconformance explains a difference between QMS and ERP only when its disposition allows
what ERP shows (contracts/holds.py): a lot marked rework and then unblocked in ERP is listed,
whatever nonconformance it has; a lot unblocked by a use-as-is disposition is not."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.test_quality_flows import balances, decide, inspection_lot_for, receive_inspected_goods
from tests.operations.test_holds_monitor import listed
from tests.support.http import auth_headers
from tests.support.wait import eventually


def held_lot(erp: httpx.Client, qms: httpx.Client, disposition: str) -> str:
    correlation_id = f"corr-explained-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    inspection = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, inspection, passed=False, disposition=disposition, correlation_id=correlation_id)
    eventually(lambda: balances(erp, receipt["lot_id"]) == {"BLOCKED": 60.0})
    return str(receipt["lot_id"])


def test_a_lot_marked_rework_then_unblocked_in_erp_is_listed(
    monitors: httpx.Client, erp: httpx.Client, qms: httpx.Client
) -> None:
    lot_id = held_lot(erp, qms, "rework")
    ncs = qms.get("/qms/v1/nonconformances", params={"lot_id": lot_id}).json()["items"]
    assert [nc["disposition"] for nc in ncs] == ["rework"]  # the decision's NC carries the rework
    eventually(lambda: listed(monitors, lot_id) is None)
    # Someone who may release names a disposition QMS never made (docs/holds.md).
    never_made = {"kind": "nonconformance", "record_id": "NC-NEVER-MADE", "disposition": "use_as_is"}
    move = {"type": "unblock", "lot_id": lot_id, "quantity": 60, "location": "WH1", "quality_ref": never_made}
    released = erp.post(
        "/erp/v1/inventory-transactions",
        json=move,
        headers=auth_headers(["erp:read", "erp:write", "erp:release"]),
    )
    assert released.status_code == 201, released.text

    offender = eventually(lambda: listed(monitors, lot_id))
    assert "60 not BLOCKED in ERP" in offender["summary"]
    assert offender["details"]["disposition"] == "rework"


def test_a_use_as_is_disposition_explains_the_unblock(
    monitors: httpx.Client, erp: httpx.Client, qms: httpx.Client
) -> None:
    lot_id = held_lot(erp, qms, "block")
    nc = {"title": "Concession", "severity": "minor", "lot_id": lot_id, "reported_by": "qa.lead"}
    created = qms.post("/qms/v1/nonconformances", json=nc | {"disposition": "use_as_is"})
    assert created.status_code == 201, created.text
    eventually(lambda: balances(erp, lot_id) == {"UNRESTRICTED": 60.0})  # the disposition's flow
    assert listed(monitors, lot_id) is None
