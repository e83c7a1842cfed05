"""The ERP API's contract, the same tests against both systems of record: the embedded tables and
a real Tryton server (ERP_BACKEND=tryton, reached over the network). The app runs in process
(tests/support/inprocess.py); the Tryton variant is in the process lane, since it starts trytond."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from plantbridge.processes import free_port
from plantbridge.tryton import TrytonServer
from system_apis.erp.backends.tryton import connection
from tests.integration.test_erp_api import make_po, problem, receive, unique
from tests.support.db import count, rows
from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.tryton import erp_settings

SCOPES = ["erp:read", "erp:write", "erp:release"]  # releases are quality's (erp:release)
RELEASED = {"kind": "usage_decision", "record_id": "IL-1", "disposition": "release"}


@dataclass
class Erp:
    backend: str
    database_url: str
    http: httpx.Client
    tryton: TrytonServer | None = None


@pytest.fixture(scope="module", params=["embedded", pytest.param("tryton", marks=pytest.mark.e2e)])
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Erp]:
    url = database_url("sqlite", f"erp_backends_{request.param}")
    tryton = request.param == "tryton"
    server = request.getfixturevalue("make_tryton")() if tryton else None
    service = in_process("erp", database_url=url, **(erp_settings(server) if server else {}))
    with client(service, scopes=SCOPES) as http:
        yield Erp(request.param, url, http, server)
    service.stop()


def move(http: httpx.Client, kind: str, lot_id: str, quantity: float, **extra: object) -> httpx.Response:
    body = {"type": kind, "lot_id": lot_id, "quantity": quantity, "location": "WH1", **extra}
    return http.post("/erp/v1/inventory-transactions", json=body)


def balances(http: httpx.Client, lot_id: str) -> list[dict[str, object]]:
    balance: list[dict[str, object]] = http.get(f"/erp/v1/lots/{lot_id}").json()["balances"]
    return balance


def test_receipt_release_issue_round_trip(erp: Erp) -> None:
    po_id, item = make_po(erp.http)
    receipt = receive(erp.http, po_id)
    assert receipt.status_code == 201, receipt.text
    lot_id = receipt.json()["lot_id"]
    assert balances(erp.http, lot_id) == [
        {"location": "WH1", "status": "QUALITY_INSPECTION", "quantity": 40.0}
    ]
    assert move(erp.http, "release", lot_id, 40, quality_ref=RELEASED).status_code == 201
    issue = move(erp.http, "issue", lot_id, 15, order_ref="MO-1001")
    assert issue.status_code == 201, issue.text
    lot = erp.http.get(f"/erp/v1/lots/{lot_id}")
    assert lot.json()["balances"] == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 25.0}]
    assert lot.headers["etag"] == f'"{lot.json()["version"]}"'
    po = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()
    assert (po["status"], po["lines"][0]["received_quantity"]) == ("partially_received", 40.0)
    issued = erp.http.get("/erp/v1/inventory-transactions", params={"order_ref": "MO-1001", "lot_id": lot_id})
    assert [t["txn_id"] for t in issued.json()["items"]] == [issue.json()["txn_id"]]
    stock = erp.http.get(f"/erp/v1/items/{item}/stock").json()
    assert (stock["unrestricted"], stock["quality_inspection"], stock["blocked"]) == (25.0, 0.0, 0.0)


def test_items_without_inspection_land_unrestricted(erp: Erp) -> None:
    po_id, _ = make_po(erp.http, inspection_required=False)
    assert receive(erp.http, po_id).json()["stock_status"] == "UNRESTRICTED"


def test_same_idempotency_key_posts_one_receipt_and_another_body_is_422(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    key = unique("key")
    first = receive(erp.http, po_id, **{"Idempotency-Key": key})
    second = receive(erp.http, po_id, **{"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    problem(receive(erp.http, po_id, 41, **{"Idempotency-Key": key}), 422, "idempotency-key-reused")
    listed = erp.http.get("/erp/v1/goods-receipts", params={"po_id": po_id}).json()["items"]
    assert [r["receipt_id"] for r in listed] == [first.json()["receipt_id"]]
    assert erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()["lines"][0]["received_quantity"] == 40.0


def test_stale_if_match_is_412_and_changes_nothing(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    lot_id = receive(erp.http, po_id).json()["lot_id"]
    etag = erp.http.get(f"/erp/v1/lots/{lot_id}").headers["etag"]
    body = {"type": "release", "lot_id": lot_id, "quantity": 10, "location": "WH1", "quality_ref": RELEASED}
    assert (
        erp.http.post("/erp/v1/inventory-transactions", json=body, headers={"If-Match": etag}).status_code
        == 201
    )
    stale = erp.http.post("/erp/v1/inventory-transactions", json=body, headers={"If-Match": etag})
    problem(stale, 412, "stale-version")
    assert {b["status"]: b["quantity"] for b in balances(erp.http, lot_id)} == {
        "QUALITY_INSPECTION": 30.0,
        "UNRESTRICTED": 10.0,
    }


async def test_held_stock_cannot_be_issued_and_the_refusal_writes_nothing(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    lot_id = receive(erp.http, po_id).json()["lot_id"]
    assert move(erp.http, "block", lot_id, 40).status_code == 201
    events = await count(erp.database_url, "kit_outbox")
    body = problem(move(erp.http, "issue", lot_id, 1, order_ref="MO-7"), 409, "lot-on-hold")
    assert body["held"] == {"BLOCKED": 40.0}
    assert balances(erp.http, lot_id) == [{"location": "WH1", "status": "BLOCKED", "quantity": 40.0}]
    assert await count(erp.database_url, "kit_outbox") == events
    problem(
        move(erp.http, "release", lot_id, 1, from_status="BLOCKED", quality_ref=RELEASED),
        409,
        "illegal-movement",
    )
    problem(move(erp.http, "unblock", lot_id, 41, quality_ref=RELEASED), 409, "insufficient-stock")


async def test_a_receipt_stages_its_events_in_the_same_transaction(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    receipt = receive(erp.http, po_id).json()
    staged = await rows(
        erp.database_url,
        "SELECT type, subject FROM kit_outbox WHERE subject IN (:receipt, :txn, :lot) ORDER BY seq",
        receipt=receipt["receipt_id"],
        txn=receipt["txn_id"],
        lot=receipt["lot_id"],
    )
    assert {(r.type, r.subject) for r in staged} == {
        ("erp.inventory_txn.posted.v1", receipt["txn_id"]),
        ("erp.stock.status_changed.v1", receipt["lot_id"]),
        ("erp.goods_receipt.posted.v1", receipt["receipt_id"]),
    }
    assert len(staged) == 3


async def test_an_over_receipt_is_refused_and_leaves_no_trace(erp: Erp) -> None:
    po_id, _ = make_po(erp.http, quantity=10)
    events = await count(erp.database_url, "kit_outbox")
    problem(receive(erp.http, po_id, 11), 409, "over-receipt")
    assert erp.http.get("/erp/v1/goods-receipts", params={"po_id": po_id}).json()["items"] == []
    assert await count(erp.database_url, "kit_outbox") == events


def test_unknown_records_are_404_and_unknown_references_422(erp: Erp) -> None:
    for path, slug in (
        ("/erp/v1/items/NOPE", "item-not-found"),
        ("/erp/v1/lots/NOPE", "lot-not-found"),
        ("/erp/v1/purchase-orders/NOPE", "purchase-order-not-found"),
        ("/erp/v1/suppliers/NOPE", "supplier-not-found"),
    ):
        problem(erp.http.get(path), 404, slug)
    problem(
        erp.http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": "NOPE", "lines": [{"item_id": "NOPE", "quantity": 1}]},
        ),
        422,
        "unknown-supplier",
    )
    problem(move(erp.http, "release", "NOPE", 1, quality_ref=RELEASED), 422, "unknown-lot")
    po_id, _ = make_po(erp.http)
    no_line = {"po_id": po_id, "line_no": 99, "quantity": 1, "location": "WH1"}
    problem(erp.http.post("/erp/v1/goods-receipts", json=no_line), 422, "unknown-po-line")


@pytest.mark.parametrize("resource", ["items", "suppliers"])
def test_keyset_pages_see_every_record_once_across_a_digit_boundary(erp: Erp, resource: str) -> None:
    """Codes that grow a digit (…-9, …-10): Tryton orders parties (and lots, invoices, purchases)
    by length, then text, so a page cursor compared as text would skip or repeat records."""
    prefix = unique("PG")
    created = [f"{prefix}-{n}" for n in range(7, 12)]
    key = {"items": "item_id", "suppliers": "supplier_id"}[resource]
    for code in created:
        body = {key: code, "description": "part"} if resource == "items" else {key: code, "name": "Acme"}
        assert erp.http.post(f"/erp/v1/{resource}", json=body).status_code == 201
    for limit in (1, 2):
        seen: list[str] = []
        cursor = None
        while True:
            answer = erp.http.get(
                f"/erp/v1/{resource}", params={"limit": limit, **({"cursor": cursor} if cursor else {})}
            )
            assert answer.status_code == 200, answer.text
            seen += [record[key] for record in answer.json()["items"]]
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(s for s in seen if s.startswith(prefix)) == sorted(created)
        assert len(seen) == len(set(seen))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["items", "suppliers", "lots", "purchase-orders", "supplier-invoices"])
def test_a_cursor_this_api_did_not_issue_is_a_422_problem(erp: Erp, path: str) -> None:
    """Not a 500 (a digit int() refuses), not a 503 (an id too large for Tryton's database) and
    not a silently empty page (a cursor of the old paging, all digits, read as a record id)."""
    for cursor in (_b64("²"), _b64("9" * 60), _b64("1"), _b64("SUP-9"), _b64("tryton-id:-1"), "%%%"):
        problem(erp.http.get(f"/erp/v1/{path}", params={"cursor": cursor}), 422, "invalid-cursor")


@pytest.mark.parametrize("reads", [None, 1])
def test_lots_filtered_out_by_status_never_end_the_list_early(
    erp: Erp, reads: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lots in another status fill Tryton's first reads (its stock status is worked out here, not
    a field it filters on); the released lot after them is still listed, at any page size, and
    when a page's reads run out first it is answered short, with a cursor to read on from."""
    if reads is not None:
        monkeypatch.setattr(connection, "READS_PER_PAGE", reads)
    po_id, item = make_po(erp.http)
    prefix = unique("LOT")
    lots = [f"{prefix}-{n}" for n in "ABC"]  # created in the order of their numbers
    for lot in lots:
        body = {"po_id": po_id, "quantity": 30, "location": "WH1", "lot_id": lot}
        assert erp.http.post("/erp/v1/goods-receipts", json=body).status_code == 201
    released = lots[-1]
    assert move(erp.http, "release", released, 30, quality_ref=RELEASED).status_code == 201
    for limit in (1, 2, 50):
        found: list[str] = []
        params: dict[str, str | int] = {"item_id": item, "status": "UNRESTRICTED", "limit": limit}
        while True:
            answer = erp.http.get("/erp/v1/lots", params=params)
            assert answer.status_code == 200, answer.text
            found += [lot["lot_id"] for lot in answer.json()["items"]]
            if not answer.json()["next_cursor"]:
                break
            params["cursor"] = answer.json()["next_cursor"]
        assert found == [released], limit


def test_purchase_orders_in_any_of_several_statuses_in_one_request(erp: Erp) -> None:
    """`status` repeated lists a supplier's orders in any of the statuses (a buyer's orders still
    to be received: open or partially received); once, in that one; an unknown one is a 400."""
    open_po, item = make_po(erp.http)
    supplier = erp.http.get(f"/erp/v1/purchase-orders/{open_po}").json()["supplier_id"]

    def order(quantity: float, received: float) -> str:
        lines = [{"item_id": item, "quantity": quantity}]
        po = erp.http.post("/erp/v1/purchase-orders", json={"supplier_id": supplier, "lines": lines})
        assert po.status_code == 201, po.text
        assert receive(erp.http, po.json()["po_id"], received).status_code == 201
        return str(po.json()["po_id"])

    partial, received = order(100, 40), order(40, 40)

    def listed(*statuses: str, limit: int = 50) -> list[str]:
        """Every page of the list: orders filtered out must not end it early."""
        params: dict[str, str | int | list[str]] = {
            "supplier_id": supplier,
            "status": list(statuses),
            "limit": limit,
        }
        found: list[str] = []
        while True:
            answer = erp.http.get("/erp/v1/purchase-orders", params=params)
            assert answer.status_code == 200, answer.text
            found += [po["po_id"] for po in answer.json()["items"]]
            if not answer.json()["next_cursor"]:
                return found
            params["cursor"] = answer.json()["next_cursor"]

    for limit in (1, 50):
        assert sorted(listed("open", "partially_received", limit=limit)) == sorted([open_po, partial])
        assert listed("received", limit=limit) == [received]
        assert sorted(listed(limit=limit)) == sorted([open_po, partial, received])
    unknown = erp.http.get(
        "/erp/v1/purchase-orders", params={"supplier_id": supplier, "status": ["open", "x"]}
    )
    assert unknown.status_code == 400, unknown.text


def test_readiness_includes_the_system_of_record(erp: Erp) -> None:
    ready = erp.http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    expected = {"database": "ok", "redis": "ok", **({"tryton": "ok"} if erp.backend == "tryton" else {})}
    assert ready.json()["checks"] == expected


# --- what only the Tryton backend answers ---------------------------------------------------------
tryton_only = pytest.mark.parametrize("erp", ["tryton"], indirect=True)


@tryton_only
def test_a_location_without_a_mapping_is_422(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    refused = erp.http.post(
        "/erp/v1/goods-receipts", json={"po_id": po_id, "quantity": 1, "location": "MOON"}
    )
    problem(refused, 422, "unknown-location")


def test_an_unreachable_tryton_is_a_503_problem(in_process: Serve, database_url: DatabaseUrl) -> None:
    service = in_process(
        "erp",
        database_url=database_url("sqlite", "erp_tryton_down"),
        backend="tryton",
        tryton_url=f"http://127.0.0.1:{free_port()}",
        tryton_locations='{"WH1": {"unrestricted": "A", "quality_inspection": "B", "blocked": "C"}}',
    )
    with client(service, scopes=SCOPES) as http:
        answer = http.get("/erp/v1/items/ANY")
        refused = http.post("/erp/v1/suppliers", json={"supplier_id": "SUP-DOWN", "name": "Down"})
        ready = http.get("/health/ready")
    service.stop()
    assert ready.status_code == 503
    assert ready.json()["checks"]["tryton"].startswith("ErpUnavailable")
    assert (ready.json()["checks"]["database"], ready.json()["checks"]["redis"]) == ("ok", "ok")
    body = problem(answer, 503, "erp-unavailable")
    assert answer.headers["retry-after"] == "5"
    assert "did not answer" in str(body["detail"])
    problem(refused, 503, "erp-unavailable")


def test_a_quantity_finer_than_the_erps_unit_is_refused_before_anything_is_made(erp: Erp) -> None:
    """The embedded ERP keeps three decimals of any unit; Tryton keeps what the item's unit takes
    (its `u` whole numbers, `kg` two decimals) and refused the rest with a 409 from inside a
    half-made command. Both answer the same way for what both keep, and Tryton's refusal is a 422
    naming the unit, before anything is made."""
    po_id, item = make_po(erp.http, quantity=10, inspection_required=False)  # in EA (Tryton's u)
    supplier = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()["supplier_id"]
    fine_line = {"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 2.5}]}
    fine_receipt = receive(erp.http, po_id, 2.5)
    if erp.backend == "embedded":
        assert erp.http.post("/erp/v1/purchase-orders", json=fine_line).status_code == 201
        assert fine_receipt.status_code == 201, fine_receipt.text
        return
    orders = erp.http.get("/erp/v1/purchase-orders", params={"supplier_id": supplier}).json()["items"]
    assert (
        "in u in the ERP, which takes 0 decimals"
        in problem(fine_receipt, 422, "quantity-too-precise")["detail"]
    )
    problem(erp.http.post("/erp/v1/purchase-orders", json=fine_line), 422, "quantity-too-precise")
    assert erp.http.get("/erp/v1/purchase-orders", params={"supplier_id": supplier}).json()["items"] == orders
    assert erp.http.get("/erp/v1/goods-receipts", params={"po_id": po_id}).json()["items"] == []

    received = receive(erp.http, po_id, 4)
    assert received.status_code == 201, received.text
    lot_id = received.json()["lot_id"]
    before = balances(erp.http, lot_id)
    problem(move(erp.http, "issue", lot_id, 0.5, order_ref="MO-7"), 422, "quantity-too-precise")
    assert balances(erp.http, lot_id) == before

    # A unit that takes decimals takes them: 2.25 kg is kept as sent.
    by_weight = unique("RM")
    created = erp.http.post(
        "/erp/v1/items", json={"item_id": by_weight, "description": "Swarf", "base_uom": "KG"}
    )
    assert created.status_code == 201, created.text
    order = erp.http.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": by_weight, "quantity": 2.25}]},
    )
    assert order.status_code == 201, order.text
    assert order.json()["lines"][0]["quantity"] == 2.25
    problem(
        erp.http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": by_weight, "quantity": 2.255}]},
        ),
        422,
        "quantity-too-precise",
    )
