"""A goods receipt through its inspection, step by step: the scenario the quality flows' tests,
the audit trail's and the operations console's share."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def receive_inspected_goods(erp: httpx.Client, correlation_id: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6].upper()
    item, supplier = f"RM-{tag}", f"SUP-{tag}"
    assert (
        erp.post(
            "/erp/v1/items", json={"item_id": item, "description": "Steel bar", "inspection_required": True}
        ).status_code
        == 201
    )
    assert erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}).status_code == 201
    po = erp.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 100}]},
    ).json()
    receipt = erp.post(
        "/erp/v1/goods-receipts",
        json={"po_id": po["po_id"], "quantity": 60, "location": "WH1"},
        headers={"X-Correlation-ID": correlation_id},
    )
    assert receipt.status_code == 201, receipt.text
    return receipt.json()


def inspection_lot_for(qms: httpx.Client, lot_id: str) -> dict[str, Any] | None:
    items = qms.get("/qms/v1/inspection-lots", params={"lot_id": lot_id}).json()["items"]
    return items[0] if items else None


def decide(
    qms: httpx.Client, lot: dict[str, Any], passed: bool, disposition: str, correlation_id: str
) -> None:
    headers = {"X-Correlation-ID": correlation_id}
    lot_id = lot["inspection_lot_id"]
    assert qms.post(f"/qms/v1/inspection-lots/{lot_id}/start", json={}, headers=headers).status_code == 200
    recorded = qms.post(
        f"/qms/v1/inspection-lots/{lot_id}/results",
        headers=headers,
        json={"results": [{"characteristic": "VISUAL", "conforming": passed}], "recorded_by": "inspector-1"},
    )
    assert recorded.status_code == 200, recorded.text
    decided = qms.post(
        f"/qms/v1/inspection-lots/{lot_id}/usage-decision",
        headers=headers,
        json={"code": "A1" if passed else "R1", "disposition": disposition, "decided_by": "inspector-1"},
    )
    assert decided.status_code == 200, decided.text


def balances(erp: httpx.Client, lot_id: str) -> dict[str, float]:
    return {b["status"]: b["quantity"] for b in erp.get(f"/erp/v1/lots/{lot_id}").json()["balances"]}
