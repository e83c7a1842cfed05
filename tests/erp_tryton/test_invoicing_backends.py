"""Supplier invoices and credit notes against both systems of record (the embedded tables and a
real Tryton): what a failed post leaves behind, zero totals, Tryton's own checks and the dates an
invoice or a payment may carry."""

from __future__ import annotations

from typing import Any

import pytest

from system_apis.erp.backends.tryton.client import TrytonClient, TrytonUnavailable
from tests.erp_tryton.test_erp_api_backends import Erp, erp  # noqa: F401  (erp: the fixture)
from tests.erp_tryton.test_holds_backends import invoice_body, received_lot, returned_to_vendor
from tests.integration.test_erp_api import problem, unique
from tests.support.db import rows
from tests.support.tryton import Rpc

tryton_only = pytest.mark.parametrize("erp", ["tryton"], indirect=True)


def post_times_out(monkeypatch: pytest.MonkeyPatch, *, applied: bool) -> None:
    """The connector's `account.invoice.post` times out once, as a slow or unreachable Tryton
    makes it: before Tryton got it (`applied=False`: the draft stays a draft), or after Tryton
    posted it and before its answer arrived (`applied=True`). The connector cannot tell which."""
    real = TrytonClient._post

    async def once(self: TrytonClient, method: str, params: list[Any], auth: bytes | None) -> Any:
        if method == "model.account.invoice.post":
            monkeypatch.setattr(TrytonClient, "_post", real)
            if applied:
                await real(self, method, params, auth)
            raise TrytonUnavailable(f"Tryton at {self.url} did not answer {method}: TimeoutError()")
        return await real(self, method, params, auth)

    monkeypatch.setattr(TrytonClient, "_post", once)


@tryton_only
@pytest.mark.parametrize("applied", [False, True], ids=["not-applied", "applied"])
def test_an_invoice_whose_post_failed_bills_its_receipt_once_whichever_key_comes_next(
    erp: Erp,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    applied: bool,
) -> None:
    """A 503 leaves Tryton holding our invoice under its key, a draft or posted: either bills the
    receipt once its request is retried, so another key's invoice of the same goods is refused
    meanwhile, and the retry answers the one invoice."""
    receipt = received_lot(erp.http)
    body = invoice_body(receipt)
    first = {"Idempotency-Key": unique("K1")}
    post_times_out(monkeypatch, applied=applied)
    problem(erp.http.post("/erp/v1/supplier-invoices", json=body, headers=first), 503, "erp-unavailable")
    again = {**body, "supplier_ref": unique("SI")}  # the same goods billed by another request
    other = erp.http.post("/erp/v1/supplier-invoices", json=again, headers={"Idempotency-Key": unique("K2")})
    problem(other, 409, "over-invoiced")
    retried = erp.http.post("/erp/v1/supplier-invoices", json=body, headers=first)
    assert retried.status_code == 201, retried.text
    assert (retried.json()["total"], retried.json()["status"]) == ("100.00", "open")
    listed = erp.http.get("/erp/v1/supplier-invoices", params={"po_id": receipt["po_id"]}).json()["items"]
    assert [i["invoice_id"] for i in listed] == [retried.json()["invoice_id"]]


@tryton_only
def test_a_failed_posts_draft_that_no_longer_fits_is_redone_when_retried(
    erp: Erp,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Goods returned after the 503 and before the retry: the draft bills what is no longer kept,
    so the retry bills what is left (its body names no quantity), as a first attempt would."""
    receipt = received_lot(erp.http)
    body = invoice_body(receipt)
    key = {"Idempotency-Key": unique("K1")}
    post_times_out(monkeypatch, applied=False)
    problem(erp.http.post("/erp/v1/supplier-invoices", json=body, headers=key), 503, "erp-unavailable")
    returned_txn = returned_to_vendor(erp.http, receipt["lot_id"])
    settled = erp.http.post("/erp/v1/return-settlements", json={"txn_id": returned_txn})
    assert settled.json()["outcome"] == "invoice_reduced", settled.text
    retried = erp.http.post("/erp/v1/supplier-invoices", json=body, headers=key)
    assert retried.status_code == 201, retried.text
    assert (retried.json()["lines"][0]["quantity"], retried.json()["total"]) == (30.0, "75.00")


async def test_an_invoice_of_nothing_to_pay_is_paid_once(erp: Erp) -> None:  # noqa: F811
    """An order without prices bills a zero total: paying it marks it paid (and says so once);
    paying it again is an illegal transition, as for any paid invoice."""
    item, supplier = unique("RM"), unique("SUP")
    erp.http.post("/erp/v1/items", json={"item_id": item, "description": "Sample"})
    erp.http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"})
    po = erp.http.post(
        "/erp/v1/purchase-orders", json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 5}]}
    )
    assert po.status_code == 201, po.text
    receipt = erp.http.post(
        "/erp/v1/goods-receipts", json={"po_id": po.json()["po_id"], "quantity": 5, "location": "WH1"}
    ).json()
    bill = erp.http.post(
        "/erp/v1/supplier-invoices",
        json={
            "po_id": receipt["po_id"],
            "supplier_ref": unique("SI"),
            "lines": [{"receipt_id": receipt["receipt_id"]}],
        },
    )
    assert bill.status_code == 201, bill.text
    assert (bill.json()["total"], bill.json()["status"]) == ("0.00", "open")
    invoice_id = bill.json()["invoice_id"]
    paid = erp.http.post(f"/erp/v1/supplier-invoices/{invoice_id}/payment", json={"reference": "NIL-1"})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert erp.http.get(f"/erp/v1/supplier-invoices/{invoice_id}").json()["status"] == "paid"
    problem(
        erp.http.post(f"/erp/v1/supplier-invoices/{invoice_id}/payment", json={}), 409, "illegal-transition"
    )
    announced = await rows(
        erp.database_url,
        "SELECT subject FROM kit_outbox WHERE type = 'erp.supplier_invoice.paid.v1' AND subject = :invoice",
        invoice=invoice_id,
    )
    assert len(announced) == 1


def test_a_supplier_reference_may_repeat_across_orders_and_returns(erp: Erp) -> None:  # noqa: F811
    """Tryton warns of a "similar" invoice (same supplier and reference within 60 days): one
    supplier invoice of two orders, and the credit notes of two returns of one lot, repeat one."""
    item, supplier = unique("RM"), unique("SUP")
    erp.http.post("/erp/v1/items", json={"item_id": item, "description": "Bar", "inspection_required": True})
    erp.http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"})
    reference, bills = unique("SI"), []
    for _ in range(2):
        lines = [{"item_id": item, "quantity": 50, "unit_price": "2.50"}]
        po = erp.http.post("/erp/v1/purchase-orders", json={"supplier_id": supplier, "lines": lines}).json()
        receipt = erp.http.post(
            "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": 40, "location": "WH1"}
        ).json()
        bill = erp.http.post(
            "/erp/v1/supplier-invoices",
            json={
                "po_id": po["po_id"],
                "supplier_ref": reference,
                "lines": [{"receipt_id": receipt["receipt_id"]}],
            },
        )
        assert bill.status_code == 201, bill.text
        bills.append(bill.json())
    assert [b["supplier_ref"] for b in bills] == [reference, reference]

    notes = []
    for quantity in (10, 5):
        back_txn = returned_to_vendor(erp.http, receipt["lot_id"], quantity)
        settled = erp.http.post("/erp/v1/return-settlements", json={"txn_id": back_txn})
        assert settled.status_code == 200, settled.text
        assert settled.json()["outcome"] == "credit_note"
        notes.append(erp.http.get(f"/erp/v1/supplier-invoices/{settled.json()['credit_note_id']}").json())
    assert [(n["total"], n["supplier_ref"]) for n in notes] == [
        ("-25.00", f"return of lot {receipt['lot_id']}"),
        ("-12.50", f"return of lot {receipt['lot_id']}"),
    ]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_an_invoice_or_payment_dated_beyond_any_record_is_a_422(erp: Erp, day: str) -> None:  # noqa: F811
    receipt = received_lot(erp.http)
    body = invoice_body(receipt)
    problem(
        erp.http.post("/erp/v1/supplier-invoices", json={**body, "invoice_date": day}), 422, "invalid-date"
    )
    bill = erp.http.post("/erp/v1/supplier-invoices", json=body)
    assert bill.status_code == 201, bill.text
    payment = f"/erp/v1/supplier-invoices/{bill.json()['invoice_id']}/payment"
    problem(erp.http.post(payment, json={"paid_on": day}), 422, "invalid-date")
    assert erp.http.get(f"/erp/v1/supplier-invoices/{bill.json()['invoice_id']}").json()["status"] == "open"


@tryton_only
def test_tryton_refuses_a_day_of_no_open_period_before_making_anything(erp: Erp) -> None:  # noqa: F811
    assert erp.tryton is not None
    receipt = received_lot(erp.http)
    body = invoice_body(receipt)
    reference = body["supplier_ref"]
    refused = erp.http.post("/erp/v1/supplier-invoices", json={**body, "invoice_date": "1990-06-30"})
    problem(refused, 422, "no-open-period")
    admin = Rpc(erp.tryton, "admin", "admin")
    try:
        assert admin("account.invoice", "search", [("reference", "=", reference)], 0, None, None) == []
    finally:
        admin.close()
    bill = erp.http.post("/erp/v1/supplier-invoices", json=body)
    assert bill.status_code == 201, bill.text
    payment = f"/erp/v1/supplier-invoices/{bill.json()['invoice_id']}/payment"
    problem(erp.http.post(payment, json={"paid_on": "1990-06-30"}), 422, "no-open-period")
    assert erp.http.get(f"/erp/v1/supplier-invoices/{bill.json()['invoice_id']}").json()["status"] == "open"


@tryton_only
def test_an_invoice_whose_post_tryton_refuses_leaves_no_draft(
    erp: Erp,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tryton answers the post with a user error (a check of its own, a module's): a 409, and the
    draft is gone, so it bills nothing and nobody posts it in Tryton by hand."""
    assert erp.tryton is not None
    real = TrytonClient._post

    async def refused(self: TrytonClient, method: str, params: list[Any], auth: bytes | None) -> Any:
        if method == "model.account.invoice.post":
            return 200, b'{"id": 1, "error": ["UserError", ["The invoice cannot be posted.", "", {}]]}'
        return await real(self, method, params, auth)

    monkeypatch.setattr(TrytonClient, "_post", refused)
    receipt = received_lot(erp.http)
    body = invoice_body(receipt)
    reference = body["supplier_ref"]
    problem(erp.http.post("/erp/v1/supplier-invoices", json=body), 409, "erp-refused")
    admin = Rpc(erp.tryton, "admin", "admin")
    try:
        assert admin("account.invoice", "search", [("reference", "=", reference)], 0, None, None) == []
    finally:
        admin.close()
    monkeypatch.setattr(TrytonClient, "_post", real)
    assert erp.http.post("/erp/v1/supplier-invoices", json=body).status_code == 201
