"""Holds that hold, against both systems of record (the embedded tables and a real Tryton): quality
owns releases, supplier invoices on a payment hold cannot be paid, held lots cannot ship, returns
are credited, purchase orders are flagged, costs are posted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.erp_tryton.test_erp_api_backends import Erp, balances, erp  # noqa: F401  (erp: the fixture)
from tests.integration.test_erp_api import problem, unique
from tests.support.db import count, rows
from tests.support.http import auth_headers

QUALITY = auth_headers(["erp:read", "erp:write", "erp:release"], client_id="quality-process")
WRITER = auth_headers(["erp:read", "erp:write"], client_id="plant-integration")  # may write, is not quality


def move(
    http: httpx.Client,
    kind: str,
    lot_id: str,
    quantity: float,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"type": kind, "lot_id": lot_id, "quantity": quantity, "location": "WH1", **extra}
    return http.post("/erp/v1/inventory-transactions", json=body, headers=headers)


def ref(disposition: str, kind: str = "usage_decision", record_id: str = "IL-1") -> dict[str, str]:
    return {"kind": kind, "record_id": record_id, "disposition": disposition}


def received_lot(http: httpx.Client, *, price: str = "2.50", quantity: float = 40) -> dict[str, Any]:
    """A priced order of an inspection-relevant item, 40 received into quality inspection at WH1."""
    item, supplier = unique("RM"), unique("SUP")
    http.post("/erp/v1/items", json={"item_id": item, "description": "Bar", "inspection_required": True})
    http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"})
    po = http.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 100, "unit_price": price}]},
    )
    assert po.status_code == 201, po.text
    receipt = http.post(
        "/erp/v1/goods-receipts", json={"po_id": po.json()["po_id"], "quantity": quantity, "location": "WH1"}
    )
    assert receipt.status_code == 201, receipt.text
    return {**receipt.json(), "supplier_id": supplier}


def returned_to_vendor(http: httpx.Client, lot_id: str, quantity: float = 10) -> str:
    """The id of a return to the vendor, out of quality inspection, of `quantity` of the lot."""
    back = move(
        http,
        "return_to_vendor",
        lot_id,
        quantity,
        from_status="QUALITY_INSPECTION",
        quality_ref=ref("return"),
        headers=QUALITY,
    )
    assert back.status_code == 201, back.text
    txn_id: str = back.json()["txn_id"]
    return txn_id


def release(http: httpx.Client, lot_id: str, quantity: float = 40) -> None:
    done = move(http, "release", lot_id, quantity, quality_ref=ref("release"), headers=QUALITY)
    assert done.status_code == 201, done.text


def invoice_body(receipt: dict[str, Any], **line: Any) -> dict[str, Any]:
    """A supplier invoice billing the receipt (all of it, unless `line` says otherwise)."""
    return {
        "po_id": receipt["po_id"],
        "supplier_ref": unique("SI"),
        "lines": [{"receipt_id": receipt["receipt_id"], **line}],
    }


def invoice(http: httpx.Client, receipt: dict[str, Any], **line: Any) -> httpx.Response:
    return http.post("/erp/v1/supplier-invoices", json=invoice_body(receipt, **line))


# --- quality owns releases --------------------------------------------------------------------------
async def test_stock_leaves_a_hold_only_with_the_quality_scope_and_a_decision_that_allows_it(
    erp: Erp,  # noqa: F811
) -> None:
    lot_id = received_lot(erp.http)["lot_id"]
    events = await count(erp.database_url, "kit_outbox")
    refused = problem(move(erp.http, "release", lot_id, 40, headers=WRITER), 403, "quality-release-required")
    assert refused["missing"] == ["scope erp:release", "quality_ref"]
    challenge = move(erp.http, "release", lot_id, 40, headers=WRITER).headers["www-authenticate"]
    assert 'scope="erp:release"' in challenge
    body = problem(move(erp.http, "release", lot_id, 40, headers=QUALITY), 422, "quality-ref-required")
    assert body["missing"] == ["quality_ref"]
    problem(
        move(erp.http, "release", lot_id, 40, quality_ref=ref("block"), headers=QUALITY),
        422,
        "quality-ref-mismatch",
    )
    assert balances(erp.http, lot_id) == [
        {"location": "WH1", "status": "QUALITY_INSPECTION", "quantity": 40.0}
    ]
    assert await count(erp.database_url, "kit_outbox") == events  # refused: nothing announced

    # Blocking needs no quality scope; taking stock out of BLOCKED does, whatever the movement.
    assert move(erp.http, "block", lot_id, 40, headers=WRITER).status_code == 201
    problem(move(erp.http, "unblock", lot_id, 10, headers=WRITER), 403, "quality-release-required")
    problem(move(erp.http, "scrap", lot_id, 10, headers=WRITER), 403, "quality-release-required")
    problem(
        move(erp.http, "scrap", lot_id, 10, quality_ref=ref("use_as_is"), headers=QUALITY),
        422,
        "quality-ref-mismatch",
    )
    nc = ref("use_as_is", kind="nonconformance", record_id="NC-7")
    unblocked = move(erp.http, "unblock", lot_id, 30, quality_ref=nc, headers=QUALITY)
    assert unblocked.status_code == 201, unblocked.text
    assert unblocked.json()["quality_ref"] == nc
    assert (
        erp.http.get(f"/erp/v1/inventory-transactions/{unblocked.json()['txn_id']}").json()["quality_ref"]
        == nc
    )
    staged = await rows(
        erp.database_url,
        "SELECT payload FROM kit_outbox WHERE type = 'erp.inventory_txn.posted.v1' AND subject = :txn",
        txn=unblocked.json()["txn_id"],
    )
    assert '"quality_ref":{"kind":"nonconformance","record_id":"NC-7","disposition":"use_as_is"}' in str(
        staged[0].payload
    )
    assert {b["status"]: b["quantity"] for b in balances(erp.http, lot_id)} == {
        "BLOCKED": 10.0,
        "UNRESTRICTED": 30.0,
    }


# --- supplier invoices and payment holds ---------------------------------------------------------------
def test_a_held_lots_invoice_cannot_be_paid_until_quality_releases_the_hold(erp: Erp) -> None:  # noqa: F811
    receipt = received_lot(erp.http)
    lot_id = receipt["lot_id"]
    posted = invoice(erp.http, receipt)
    assert posted.status_code == 201, posted.text
    bill = posted.json()
    assert (bill["kind"], bill["status"], bill["total"]) == ("invoice", "open", "100.00")
    assert [(li["lot_id"], li["quantity"]) for li in bill["lines"]] == [(lot_id, 40.0)]
    assert bill["payment_block"] == {"blocked": False, "lots": []}
    problem(invoice(erp.http, receipt, quantity=1), 409, "over-invoiced")

    hold = erp.http.post(f"/erp/v1/lots/{lot_id}/payment-hold", json={"reason": "failed inspection IL-1"})
    assert hold.status_code == 200, hold.text
    assert (hold.json()["active"], hold.json()["blocked_invoices"]) == (True, [bill["invoice_id"]])
    again = erp.http.post(f"/erp/v1/lots/{lot_id}/payment-hold", json={"reason": "failed inspection IL-1"})
    assert again.json()["version"] == hold.json()["version"]  # holding a held lot changes nothing
    held = erp.http.get(f"/erp/v1/supplier-invoices/{bill['invoice_id']}").json()
    assert held["payment_block"] == {"blocked": True, "lots": [lot_id]}
    refused = problem(
        erp.http.post(f"/erp/v1/supplier-invoices/{bill['invoice_id']}/payment", json={}),
        409,
        "payment-blocked",
    )
    assert refused["lots"] == [lot_id]
    assert erp.http.get(f"/erp/v1/supplier-invoices/{bill['invoice_id']}").json()["status"] == "open"

    # Only quality lifts it, naming the decision that releases the lot.
    lift = {"quality_ref": ref("release")}
    problem(
        erp.http.post(f"/erp/v1/lots/{lot_id}/payment-hold/release", json=lift, headers=WRITER),
        403,
        "insufficient-scope",
    )
    problem(
        erp.http.post(
            f"/erp/v1/lots/{lot_id}/payment-hold/release", json={"quality_ref": ref("scrap")}, headers=QUALITY
        ),
        422,
        "quality-ref-mismatch",
    )
    lifted = erp.http.post(f"/erp/v1/lots/{lot_id}/payment-hold/release", json=lift, headers=QUALITY)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["active"] is False
    paid = erp.http.post(
        f"/erp/v1/supplier-invoices/{bill['invoice_id']}/payment", json={"reference": "BANK-42"}
    )
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["payment_reference"]) == ("paid", "BANK-42")
    problem(
        erp.http.post(f"/erp/v1/supplier-invoices/{bill['invoice_id']}/payment", json={}),
        409,
        "illegal-transition",
    )
    listed = erp.http.get("/erp/v1/supplier-invoices", params={"lot_id": lot_id}).json()["items"]
    assert [i["invoice_id"] for i in listed] == [bill["invoice_id"]]


def test_an_invoice_posted_while_its_lot_is_held_is_posted_blocked(erp: Erp) -> None:  # noqa: F811
    receipt = received_lot(erp.http)
    erp.http.post(f"/erp/v1/lots/{receipt['lot_id']}/payment-hold", json={"reason": "blocked by QMS"})
    bill = invoice(erp.http, receipt, quantity=15)
    assert bill.status_code == 201, bill.text
    assert bill.json()["payment_block"] == {"blocked": True, "lots": [receipt["lot_id"]]}
    assert bill.json()["total"] == "37.50"
    problem(
        erp.http.post(f"/erp/v1/supplier-invoices/{bill.json()['invoice_id']}/payment", json={}),
        409,
        "payment-blocked",
    )


def test_an_invoice_whose_amount_no_record_holds_is_a_422_and_posts_nothing(erp: Erp) -> None:  # noqa: F811
    """Price and quantity are each bounded on the wire; their product is not (it was a 500)."""
    receipt = received_lot(erp.http, price="9999999999999.9999", quantity=100)
    before = len(
        erp.http.get("/erp/v1/supplier-invoices", params={"po_id": receipt["po_id"]}).json()["items"]
    )
    problem(invoice(erp.http, receipt), 422, "amount-too-large")
    after = erp.http.get("/erp/v1/supplier-invoices", params={"po_id": receipt["po_id"]}).json()["items"]
    assert len(after) == before == 0


# --- returns: a credit note, or a reduced invoice ----------------------------------------------------
def test_a_return_of_invoiced_goods_is_credited_and_one_not_yet_invoiced_reduces_the_invoice(
    erp: Erp,  # noqa: F811
) -> None:
    billed = received_lot(erp.http)
    bill = invoice(erp.http, billed).json()
    returned_txn = returned_to_vendor(erp.http, billed["lot_id"])
    settled = erp.http.post("/erp/v1/return-settlements", json={"txn_id": returned_txn})
    assert settled.status_code == 200, settled.text
    assert settled.json()["outcome"] == "credit_note"
    note = erp.http.get(f"/erp/v1/supplier-invoices/{settled.json()['credit_note_id']}").json()
    assert (note["kind"], note["total"], note["lines"][0]["quantity"]) == ("credit_note", "-25.00", -10.0)
    assert note["lines"][0]["receipt_id"] == billed["receipt_id"]
    again = erp.http.post("/erp/v1/return-settlements", json={"txn_id": returned_txn})
    assert again.json() == settled.json()
    assert (
        len(erp.http.get("/erp/v1/supplier-invoices", params={"po_id": bill["po_id"]}).json()["items"]) == 2
    )

    kept = received_lot(erp.http)
    back_txn = returned_to_vendor(erp.http, kept["lot_id"])
    reduced = erp.http.post("/erp/v1/return-settlements", json={"txn_id": back_txn}).json()
    assert (reduced["outcome"], reduced["credit_note_id"]) == ("invoice_reduced", None)
    later = invoice(erp.http, kept)
    assert later.status_code == 201, later.text
    assert (later.json()["lines"][0]["quantity"], later.json()["total"]) == (30.0, "75.00")


# --- deliveries of held stock ------------------------------------------------------------------------
async def test_held_stock_cannot_be_delivered_and_each_lot_says_why(erp: Erp) -> None:  # noqa: F811
    lot_id = received_lot(erp.http)["lot_id"]
    customer = unique("CUS")
    # A Tryton party is a supplier and a customer alike: the supplier endpoint makes it.
    erp.http.post("/erp/v1/suppliers", json={"supplier_id": customer, "name": "Buyer"})
    eligible = erp.http.get(f"/erp/v1/lots/{lot_id}/eligibility").json()
    assert (eligible["eligible_to_ship"], eligible["shippable_quantity"]) == (False, 0.0)
    assert eligible["reasons"] == [
        {
            "reason": "quality_inspection",
            "detail": "40 QUALITY_INSPECTION at WH1",
            "location": "WH1",
            "quantity": 40.0,
        }
    ]
    shipment = {
        "customer_id": customer,
        "order_ref": "SO-1",
        "lines": [{"lot_id": lot_id, "quantity": 5, "location": "WH1"}],
    }
    events = await count(erp.database_url, "kit_outbox")
    refused = problem(erp.http.post("/erp/v1/deliveries", json=shipment), 409, "lot-on-hold")
    assert refused["lot_id"] == lot_id
    assert await count(erp.database_url, "kit_outbox") == events

    release(erp.http, lot_id)
    assert erp.http.get(f"/erp/v1/lots/{lot_id}/eligibility").json()["eligible_to_ship"] is True
    shipped = erp.http.post("/erp/v1/deliveries", json=shipment)
    assert shipped.status_code == 201, shipped.text
    [line] = shipped.json()["lines"]
    assert (line["lot_id"], line["quantity"]) == (lot_id, 5.0)
    txn = erp.http.get(f"/erp/v1/inventory-transactions/{line['txn_id']}").json()
    assert (txn["type"], txn["from_status"], txn["to_status"]) == ("delivery", "UNRESTRICTED", None)
    assert balances(erp.http, lot_id) == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 35.0}]
    assert erp.http.get(f"/erp/v1/deliveries/{shipped.json()['delivery_id']}").json() == shipped.json()
    # A lot of which some is blocked again ships nowhere.
    assert move(erp.http, "block", lot_id, 1, from_status="UNRESTRICTED").status_code == 201
    problem(erp.http.post("/erp/v1/deliveries", json=shipment), 409, "lot-on-hold")


# --- purchasing learns ------------------------------------------------------------------------------
def test_an_open_purchase_order_is_flagged_once_per_failed_lot(erp: Erp) -> None:  # noqa: F811
    receipt = received_lot(erp.http)
    po_id, item = receipt["po_id"], receipt["item_id"]
    alert = {
        "item_id": item,
        "lot_id": receipt["lot_id"],
        "reason": "failed VISUAL",
        "supplier_case_id": "SC-1",
    }
    flagged = erp.http.post(f"/erp/v1/purchase-orders/{po_id}/quality-alerts", json=alert)
    assert flagged.status_code == 200, flagged.text
    again = erp.http.post(f"/erp/v1/purchase-orders/{po_id}/quality-alerts", json=alert)
    assert [a["alert_id"] for a in again.json()["quality_alerts"]] == [
        a["alert_id"] for a in flagged.json()["quality_alerts"]
    ]
    [shown] = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()["quality_alerts"]
    assert (shown["lot_id"], shown["supplier_case_id"], shown["reason"]) == (
        receipt["lot_id"],
        "SC-1",
        "failed VISUAL",
    )
    listed = erp.http.get("/erp/v1/purchase-orders", params={"supplier_id": receipt["supplier_id"]}).json()
    assert [len(po["quality_alerts"]) for po in listed["items"]] == [1]
    problem(
        erp.http.post(
            f"/erp/v1/purchase-orders/{po_id}/quality-alerts",
            json={**alert, "item_id": "OTHER", "lot_id": "L2"},
        ),
        422,
        "item-not-on-order",
    )


# --- costs -----------------------------------------------------------------------------------------
def test_a_cost_posting_is_kept_once_and_listed_by_order(erp: Erp) -> None:  # noqa: F811
    order = unique("WO")
    body = {
        "amount": "120.50",
        "currency": "EUR",
        "cost_centre": "CC-MAINT",
        "kind": "labor",
        "order_ref": order,
    }
    key = {"Idempotency-Key": unique("key")}
    first = erp.http.post("/erp/v1/cost-postings", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert erp.http.post("/erp/v1/cost-postings", json=body, headers=key).json() == first.json()
    listed = erp.http.get("/erp/v1/cost-postings", params={"order_ref": order}).json()["items"]
    assert [(c["posting_id"], c["amount"], c["kind"]) for c in listed] == [
        (first.json()["posting_id"], "120.5000", "labor")
    ]
    assert erp.http.get("/erp/v1/cost-postings", params={"cost_centre": "CC-MAINT"}).json()["items"]


@pytest.mark.parametrize("erp", ["tryton"], indirect=True)
def test_tryton_keeps_a_cost_in_another_currency_out(erp: Erp) -> None:  # noqa: F811
    problem(
        erp.http.post("/erp/v1/cost-postings", json={"amount": "1", "currency": "USD", "cost_centre": "CC"}),
        422,
        "currency-not-supported",
    )
