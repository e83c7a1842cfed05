"""Records in the system APIs for the experience tests, made through their public APIs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def asset(cmms: httpx.Client, site: str) -> str:
    asset_id = f"AS-{tag()}"
    ok(
        cmms.post(
            "/cmms/v1/assets",
            json={
                "asset_id": asset_id,
                "tag": asset_id,
                "description": "Press",
                "site": site,
                "criticality": "A",
            },
        ),
        201,
    )
    return asset_id


def work_order(
    cmms: httpx.Client, asset_id: str, assignee: str, *, nc_id: str | None = None
) -> dict[str, Any]:
    order = ok(
        cmms.post(
            "/cmms/v1/work-orders",
            json={
                "asset_id": asset_id,
                "type": "corrective",
                "description": "Replace bearing",
                "assignee": assignee,
                **({"nonconformance_id": nc_id} if nc_id else {}),
            },
        ),
        201,
    )
    return ok(cmms.post(f"/cmms/v1/work-orders/{order['wo_id']}/release"))


def nonconformance(
    qms: httpx.Client, *, supplier_id: str | None = None, equipment_id: str | None = None
) -> str:
    body = {
        "title": "Burrs on flange",
        "severity": "major",
        "supplier_id": supplier_id,
        "equipment_id": equipment_id,
    }
    return str(
        ok(qms.post("/qms/v1/nonconformances", json={k: v for k, v in body.items() if v}), 201)["nc_id"]
    )


def supplier_case(qms: httpx.Client, supplier_id: str, *, issue: bool = True, **extra: Any) -> dict[str, Any]:
    case = ok(
        qms.post("/qms/v1/supplier-cases", json={"supplier_id": supplier_id, "title": "Burrs", **extra}), 201
    )
    if issue:
        case = ok(qms.post(f"/qms/v1/supplier-cases/{case['case_id']}/issue", json={}))
    return case


def received_lot(erp: httpx.Client, supplier_id: str, quantity: float) -> str:
    item = f"RM-{tag()}"
    ok(erp.post("/erp/v1/items", json={"item_id": item, "description": "Steel bar"}), 201)
    if erp.get(f"/erp/v1/suppliers/{supplier_id}").status_code == 404:
        ok(erp.post("/erp/v1/suppliers", json={"supplier_id": supplier_id, "name": supplier_id}), 201)
    po = ok(
        erp.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier_id, "lines": [{"item_id": item, "quantity": quantity}]},
        ),
        201,
    )
    receipt = ok(
        erp.post(
            "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": quantity, "location": "WH1"}
        ),
        201,
    )
    return str(receipt["lot_id"])


def inspection(
    qms: httpx.Client, supplier_id: str, lot_id: str, *, passed: bool | None = None
) -> dict[str, Any]:
    lot = ok(
        qms.post(
            "/qms/v1/inspection-lots",
            json={
                "origin": "goods_receipt",
                "item_id": "RM-X",
                "lot_id": lot_id,
                "sample_size": 5,
                "supplier_id": supplier_id,
                "characteristics": [{"code": "VISUAL", "kind": "attribute"}],
            },
        ),
        201,
    )
    if passed is None:
        return lot
    lot_id = lot["inspection_lot_id"]
    ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/start", json={}))
    ok(
        qms.post(
            f"/qms/v1/inspection-lots/{lot_id}/results",
            json={"results": [{"characteristic": "VISUAL", "conforming": passed}]},
        )
    )
    return ok(
        qms.post(
            f"/qms/v1/inspection-lots/{lot_id}/usage-decision",
            json={
                "code": "A1" if passed else "R1",
                "disposition": "release" if passed else "block",
                "decided_by": "qa",
            },
        )
    )
