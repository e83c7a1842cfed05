"""What the ERP API does the same in front of Tryton as with its own tables, beyond stock and
receipts: reversals (a compensating move), reorder points (Tryton's order points, stock_supply),
purchase requisitions (Tryton's purchase requisitions and requests) and cancelling a purchase
order. Each runs against both backends; with Tryton, what Tryton holds is read through its RPC."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.erp_tryton.test_erp_api_backends import RELEASED, Erp, balances, erp, move
from tests.integration.test_erp_api import make_po, problem, receive, unique
from tests.support.tryton import Rpc

__all__ = ["erp"]  # the two-backend ERP fixture, one per module


@pytest.fixture(scope="module")
def tryton_rpc(erp: Erp) -> Iterator[Rpc | None]:
    """Tryton's own RPC as its administrator (None with the embedded backend)."""
    if erp.tryton is None:
        yield None
        return
    rpc = Rpc(erp.tryton, "admin", "admin")
    yield rpc
    rpc.close()


def spare(http: httpx.Client, reorder_point: float | None = 5, stock: float = 0) -> str:
    item = unique("SP")
    body: dict[str, Any] = {"item_id": item, "description": "Bearing", "item_type": "spare_part"}
    if reorder_point is not None:
        body["reorder_point"] = reorder_point
    made = http.post("/erp/v1/items", json=body)
    assert made.status_code == 201, made.text
    if stock:
        supplier = unique("SUP")
        assert (
            http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Bearings"}).status_code
            == 201
        )
        po = http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": stock}]},
        ).json()
        assert receive(http, po["po_id"], stock).status_code == 201
    return item


# --- reversals ------------------------------------------------------------------------------------
def test_a_reversal_compensates_once(erp: Erp, tryton_rpc: Rpc | None) -> None:
    po_id, _ = make_po(erp.http)
    lot_id = receive(erp.http, po_id).json()["lot_id"]
    block = move(erp.http, "block", lot_id, 40).json()
    key = {"Idempotency-Key": unique("rev")}
    path = f"/erp/v1/inventory-transactions/{block['txn_id']}/reversal"
    reversal = erp.http.post(path, json={"reason": "wrong lot"}, headers=key)
    assert reversal.status_code == 201, reversal.text
    assert erp.http.post(path, json={"reason": "wrong lot"}, headers=key).json() == reversal.json()
    body = reversal.json()
    assert (body["type"], body["reverses"], body["reason"]) == ("reversal", block["txn_id"], "wrong lot")
    assert (body["from_status"], body["to_status"]) == ("BLOCKED", "QUALITY_INSPECTION")
    reversed_block = erp.http.get(f"/erp/v1/inventory-transactions/{block['txn_id']}").json()
    assert reversed_block["reversed_by"] == body["txn_id"]
    problem(erp.http.post(path, json={}), 409, "already-reversed")
    assert balances(erp.http, lot_id) == [
        {"location": "WH1", "status": "QUALITY_INSPECTION", "quantity": 40.0}
    ]
    if tryton_rpc is not None:  # one compensating move, done, whose origin is the block's move
        compensating = tryton_rpc(
            "stock.move",
            "search_read",
            [("lot.number", "=", lot_id), ("origin", "like", "stock.move,%")],
            0,
            None,
            None,
            ["state", "from_location.code", "to_location.code", "quantity"],
        )
        assert [
            (c["state"], c["from_location."]["code"], c["to_location."]["code"]) for c in compensating
        ] == [("done", "WH1-BLK", "WH1-QI")]


def test_a_scrap_is_reversed_back_into_stock_and_a_receipt_is_not(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    receipt = receive(erp.http, po_id).json()
    lot_id = receipt["lot_id"]
    assert move(erp.http, "release", lot_id, 40, quality_ref=RELEASED).status_code == 201
    scrap = move(erp.http, "scrap", lot_id, 15, from_status="UNRESTRICTED", reason="dropped")
    assert scrap.status_code == 201, scrap.text
    reversal = erp.http.post(f"/erp/v1/inventory-transactions/{scrap.json()['txn_id']}/reversal", json={})
    assert reversal.status_code == 201, reversal.text
    assert (reversal.json()["from_status"], reversal.json()["to_status"]) == (None, "UNRESTRICTED")
    assert balances(erp.http, lot_id) == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 40.0}]
    refused = erp.http.post(f"/erp/v1/inventory-transactions/{receipt['txn_id']}/reversal", json={})
    problem(refused, 409, "illegal-movement")
    problem(
        erp.http.post("/erp/v1/inventory-transactions/TXN-NOPE/reversal", json={}),
        404,
        "inventory-transaction-not-found",
    )


# --- reorder points -------------------------------------------------------------------------------
def test_a_reorder_point_is_kept_and_read_back(erp: Erp, tryton_rpc: Rpc | None) -> None:
    item = spare(erp.http, reorder_point=5, stock=4)
    made = erp.http.get(f"/erp/v1/items/{item}")
    assert made.json()["reorder_point"] == 5.0
    stock = erp.http.get(f"/erp/v1/items/{item}/stock").json()
    assert (stock["unrestricted"], stock["reorder_point"], stock["below_reorder_point"]) == (4.0, 5.0, True)
    changed = erp.http.patch(
        f"/erp/v1/items/{item}", json={"reorder_point": 3}, headers={"If-Match": made.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["reorder_point"] == 3.0
    assert changed.headers["etag"] != made.headers["etag"]
    assert erp.http.get(f"/erp/v1/items/{item}/stock").json()["below_reorder_point"] is False
    stale = erp.http.patch(
        f"/erp/v1/items/{item}", json={"reorder_point": 9}, headers={"If-Match": made.headers["etag"]}
    )
    problem(stale, 412, "stale-version")
    if tryton_rpc is not None:  # Tryton's purchase order point at the warehouse says the same
        [point] = tryton_rpc(
            "stock.order_point",
            "search_read",
            [("product.code", "=", item)],
            0,
            None,
            None,
            ["type", "min_quantity", "location.type"],
        )
        assert (point["type"], point["min_quantity"], point["location."]["type"]) == (
            "purchase",
            3.0,
            "warehouse",
        )
    assert (
        erp.http.get(f"/erp/v1/items/{spare(erp.http, reorder_point=None)}").json()["reorder_point"] is None
    )


# --- purchase requisitions ------------------------------------------------------------------------
def test_an_item_has_one_open_requisition_and_ordering_it_reaches_purchasing(
    erp: Erp, tryton_rpc: Rpc | None
) -> None:
    item = spare(erp.http)
    raised = {"item_id": item, "quantity": 9, "reason": "under its reorder point", "source_ref": "WO-7"}
    key = {"Idempotency-Key": unique("req")}
    first = erp.http.post("/erp/v1/purchase-requisitions", json=raised, headers=key)
    assert first.status_code == 201, first.text
    assert erp.http.post("/erp/v1/purchase-requisitions", json=raised, headers=key).json() == first.json()
    body = first.json()
    assert (body["status"], body["quantity"], body["source_ref"], body["allowed_actions"]) == (
        "open",
        9.0,
        "WO-7",
        ["order", "cancel"],
    )
    second = problem(erp.http.post("/erp/v1/purchase-requisitions", json=raised), 409, "requisition-open")
    assert second["requisition_id"] == body["requisition_id"]
    listed = erp.http.get("/erp/v1/purchase-requisitions", params={"item_id": item, "status": "open"}).json()
    assert [r["requisition_id"] for r in listed["items"]] == [body["requisition_id"]]
    requisition = body["requisition_id"]
    if tryton_rpc is not None:  # submitted for approval in Tryton, once
        [found] = tryton_rpc(
            "purchase.requisition",
            "search_read",
            [("lines.product.code", "=", item)],
            0,
            None,
            None,
            ["state", "number"],
        )
        assert (found["state"], found["number"]) == ("waiting", requisition)

    ordered = erp.http.post(f"/erp/v1/purchase-requisitions/{requisition}/order", json={})
    assert (ordered.status_code, ordered.json()["status"], ordered.json()["allowed_actions"]) == (
        200,
        "ordered",
        [],
    )
    problem(
        erp.http.post(f"/erp/v1/purchase-requisitions/{requisition}/cancel", json={}),
        409,
        "illegal-transition",
    )
    if tryton_rpc is not None:  # approved: Tryton made a purchase request of it for purchasing
        requests = tryton_rpc(
            "purchase.request",
            "search_read",
            [("product.code", "=", item)],
            0,
            None,
            None,
            ["state", "quantity"],
        )
        assert [(r["state"], r["quantity"]) for r in requests] == [("draft", 9.0)]
    again = erp.http.post("/erp/v1/purchase-requisitions", json=raised)
    assert again.status_code == 201, again.text  # the ordered one is no longer open
    cancelled = erp.http.post(
        f"/erp/v1/purchase-requisitions/{again.json()['requisition_id']}/cancel",
        json={"reason": "not needed"},
    )
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    listed = erp.http.get("/erp/v1/purchase-requisitions", params={"item_id": item}).json()["items"]
    assert sorted(r["status"] for r in listed) == ["cancelled", "ordered"]


def test_racing_requisitions_for_one_item_make_one(erp: Erp) -> None:
    item = spare(erp.http)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: (
                    erp.http.post(
                        "/erp/v1/purchase-requisitions", json={"item_id": item, "quantity": 3}
                    ).status_code
                ),
                range(4),
            )
        )
    assert sorted(answers) == [201, 409, 409, 409]
    problem(
        erp.http.post("/erp/v1/purchase-requisitions", json={"item_id": "NO-SUCH-ITEM", "quantity": 1}),
        422,
        "unknown-item",
    )


# --- cancelling a purchase order ------------------------------------------------------------------
def test_an_open_purchase_order_is_cancelled_and_then_receives_nothing(
    erp: Erp, tryton_rpc: Rpc | None
) -> None:
    po_id, _ = make_po(erp.http)
    etag = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").headers["etag"]
    cancelled = erp.http.post(f"/erp/v1/purchase-orders/{po_id}/cancel", headers={"If-Match": etag})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled"), cancelled.text
    assert erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()["status"] == "cancelled"
    problem(receive(erp.http, po_id), 409, "illegal-transition")
    if tryton_rpc is not None:  # Tryton plans no receipt for it any more
        moves = tryton_rpc(
            "stock.move",
            "search_read",
            [("origin.purchase.number", "=", po_id, "purchase.line")],
            0,
            None,
            None,
            ["state"],
        )
        assert {mv["state"] for mv in moves} <= {"cancelled"}

    received, _ = make_po(erp.http)
    assert receive(erp.http, received, 10).status_code == 201
    problem(erp.http.post(f"/erp/v1/purchase-orders/{received}/cancel"), 409, "illegal-transition")
