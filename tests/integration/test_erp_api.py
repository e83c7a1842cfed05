"""ERP system API in process (its whole ASGI stack, no socket), on real SQLite and PostgreSQL and a
real Redis."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.db import count, rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import client
from tests.support.inprocess import InProcess

SCOPES = ["erp:read", "erp:write", "erp:release"]  # releases are quality's (erp:release)
RELEASED = {"kind": "usage_decision", "record_id": "IL-1", "disposition": "release"}


@dataclass
class Erp:
    service: InProcess
    database_url: str
    http: httpx.Client


@pytest.fixture(scope="module", params=BACKENDS)
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Erp]:
    url = database_url(request.param, f"erp_api_{request.param}")
    service = in_process("erp", database_url=url)
    with client(service, scopes=SCOPES) as http:
        yield Erp(service, url, http)
    service.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def make_po(
    http: httpx.Client, *, inspection_required: bool = True, quantity: float = 100
) -> tuple[str, str]:
    item = unique("RM")
    supplier = unique("SUP")
    assert (
        http.post(
            "/erp/v1/items",
            json={"item_id": item, "description": "Steel bar", "inspection_required": inspection_required},
        ).status_code
        == 201
    )
    assert http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}).status_code == 201
    po = http.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": quantity}]},
    )
    assert po.status_code == 201, po.text
    return po.json()["po_id"], item


def receive(http: httpx.Client, po_id: str, quantity: float = 40, **headers: str) -> httpx.Response:
    return http.post(
        "/erp/v1/goods-receipts",
        json={"po_id": po_id, "quantity": quantity, "location": "WH1"},
        headers=headers,
    )


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:plantbridge:problem:{slug}"
    assert body["status"] == status
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return body


def test_receipt_release_issue_round_trip(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    receipt = receive(erp.http, po_id)
    assert receipt.status_code == 201, receipt.text
    lot_id = receipt.json()["lot_id"]
    lot = erp.http.get(f"/erp/v1/lots/{lot_id}").json()
    assert lot["balances"] == [{"location": "WH1", "status": "QUALITY_INSPECTION", "quantity": 40.0}]

    release = erp.http.post(
        "/erp/v1/inventory-transactions",
        json={
            "type": "release",
            "lot_id": lot_id,
            "quantity": 40,
            "location": "WH1",
            "quality_ref": RELEASED,
        },
    )
    assert release.status_code == 201, release.text
    issue = erp.http.post(
        "/erp/v1/inventory-transactions",
        json={"type": "issue", "lot_id": lot_id, "quantity": 15, "location": "WH1", "order_ref": "MO-1001"},
    )
    assert issue.status_code == 201, issue.text

    lot = erp.http.get(f"/erp/v1/lots/{lot_id}")
    assert lot.json()["balances"] == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 25.0}]
    assert lot.headers["etag"] == f'"{lot.json()["version"]}"'
    po = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()
    assert po["status"] == "partially_received"
    assert po["lines"][0]["received_quantity"] == 40.0
    issued = erp.http.get("/erp/v1/inventory-transactions", params={"order_ref": "MO-1001"}).json()["items"]
    assert [t["txn_id"] for t in issued] == [issue.json()["txn_id"]]


def test_items_without_inspection_land_unrestricted(erp: Erp) -> None:
    po_id, _ = make_po(erp.http, inspection_required=False)
    receipt = receive(erp.http, po_id)
    assert receipt.json()["stock_status"] == "UNRESTRICTED"


async def test_same_idempotency_key_creates_one_receipt_and_other_body_is_422(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    key = unique("key")
    before = await count(erp.database_url, "goods_receipts")
    first = receive(erp.http, po_id, **{"Idempotency-Key": key})
    second = receive(erp.http, po_id, **{"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await count(erp.database_url, "goods_receipts") == before + 1
    problem(receive(erp.http, po_id, 41, **{"Idempotency-Key": key}), 422, "idempotency-key-reused")
    assert await count(erp.database_url, "goods_receipts") == before + 1


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
    details = problem(stale, 412, "stale-version")
    assert stale.headers["etag"] != etag
    assert details["current_version"] == int(stale.headers["etag"].strip('"'))
    balances = erp.http.get(f"/erp/v1/lots/{lot_id}").json()["balances"]
    assert {b["status"]: b["quantity"] for b in balances} == {
        "QUALITY_INSPECTION": 30.0,
        "UNRESTRICTED": 10.0,
    }


async def test_issuing_blocked_stock_is_lot_on_hold_and_writes_nothing(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    lot_id = receive(erp.http, po_id).json()["lot_id"]
    assert (
        erp.http.post(
            "/erp/v1/inventory-transactions",
            json={"type": "block", "lot_id": lot_id, "quantity": 40, "location": "WH1"},
        ).status_code
        == 201
    )
    txns, events = (
        await count(erp.database_url, "inventory_transactions"),
        await count(erp.database_url, "kit_outbox"),
    )
    refused = erp.http.post(
        "/erp/v1/inventory-transactions",
        json={"type": "issue", "lot_id": lot_id, "quantity": 1, "location": "WH1", "order_ref": "MO-7"},
    )
    body = problem(refused, 409, "lot-on-hold")
    assert body["held"] == {"BLOCKED": 40.0}
    assert await count(erp.database_url, "inventory_transactions") == txns
    assert await count(erp.database_url, "kit_outbox") == events


async def test_each_change_stages_its_events_in_the_same_transaction(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    receipt = receive(erp.http, po_id).json()
    staged = await rows(
        erp.database_url,
        "SELECT type, subject, payload FROM kit_outbox WHERE subject IN (:receipt, :txn, :lot) ORDER BY seq",
        receipt=receipt["receipt_id"],
        txn=receipt["txn_id"],
        lot=receipt["lot_id"],
    )
    assert [(r.type, r.subject) for r in staged] == [
        ("erp.inventory_txn.posted.v1", receipt["txn_id"]),
        ("erp.stock.status_changed.v1", receipt["lot_id"]),
        ("erp.goods_receipt.posted.v1", receipt["receipt_id"]),
    ]
    cost = erp.http.post(
        "/erp/v1/cost-postings",
        json={"amount": "125.50", "currency": "EUR", "cost_centre": "CC-4711", "kind": "labor"},
    )
    assert cost.status_code == 201, cost.text
    assert cost.json()["amount"] == "125.5000"
    posted = await rows(
        erp.database_url, "SELECT type FROM kit_outbox WHERE subject = :s", s=cost.json()["posting_id"]
    )
    assert [r.type for r in posted] == ["erp.cost.posted.v1"]


async def test_an_over_receipt_is_refused_and_leaves_no_trace(erp: Erp) -> None:
    po_id, _ = make_po(erp.http, quantity=10)
    before = {t: await count(erp.database_url, t) for t in ("goods_receipts", "lots", "kit_outbox")}
    problem(receive(erp.http, po_id, 11), 409, "over-receipt")
    assert {t: await count(erp.database_url, t) for t in before} == before


def test_reversal_compensates_once(erp: Erp) -> None:
    po_id, _ = make_po(erp.http)
    lot_id = receive(erp.http, po_id).json()["lot_id"]
    block = erp.http.post(
        "/erp/v1/inventory-transactions",
        json={"type": "block", "lot_id": lot_id, "quantity": 40, "location": "WH1"},
    ).json()
    reversal = erp.http.post(
        f"/erp/v1/inventory-transactions/{block['txn_id']}/reversal",
        json={"reason": "wrong lot", "quality_ref": RELEASED},
    )
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reverses"] == block["txn_id"]
    assert (
        erp.http.get(f"/erp/v1/inventory-transactions/{block['txn_id']}").json()["reversed_by"]
        == reversal.json()["txn_id"]
    )
    problem(
        erp.http.post(
            f"/erp/v1/inventory-transactions/{block['txn_id']}/reversal", json={"quality_ref": RELEASED}
        ),
        409,
        "already-reversed",
    )
    balances = erp.http.get(f"/erp/v1/lots/{lot_id}").json()["balances"]
    assert balances == [{"location": "WH1", "status": "QUALITY_INSPECTION", "quantity": 40.0}]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/erp/v1/items", {"item_id": "X-1", "description": 42}, 400),
        ("/erp/v1/items", {"item_id": "X-1", "description": "ok", "colour": "red"}, 400),
        ("/erp/v1/items", {"item_id": "", "description": "ok"}, 400),
        # Python's `$` matches before a final newline; the id would be stored and break headers.
        ("/erp/v1/items", {"item_id": "X-1\n", "description": "ok"}, 400),
        ("/erp/v1/items", {"item_id": "X-1", "description": "ok", "base_uom": "EA\n"}, 400),
        (
            "/erp/v1/purchase-orders",
            {"supplier_id": "NOPE", "lines": [{"item_id": "NOPE", "quantity": 1}]},
            422,
        ),
        ("/erp/v1/purchase-orders", {"supplier_id": "NOPE", "lines": []}, 400),
        ("/erp/v1/goods-receipts", {"po_id": "PO-NOPE", "quantity": 1, "location": "WH1"}, 422),
        ("/erp/v1/goods-receipts", {"po_id": "PO-NOPE", "quantity": -5, "location": "WH1"}, 400),
        (
            "/erp/v1/inventory-transactions",
            {"type": "teleport", "lot_id": "L", "quantity": 1, "location": "W"},
            400,
        ),
        (
            "/erp/v1/inventory-transactions",
            {"type": "release", "lot_id": "NOPE", "quantity": 1, "location": "W"},
            422,
        ),
        ("/erp/v1/cost-postings", {"amount": "12,50", "currency": "EUR", "cost_centre": "CC"}, 400),
        ("/erp/v1/cost-postings", {"amount": "1", "currency": "euro", "cost_centre": "CC"}, 400),
        ("/erp/v1/cost-postings", {"amount": "1\n", "currency": "EUR", "cost_centre": "CC"}, 400),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    erp: Erp, path: str, body: dict[str, object], status: int
) -> None:
    before = await count(erp.database_url, "kit_outbox")
    response = erp.http.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]
    assert await count(erp.database_url, "kit_outbox") == before


def test_malformed_json_and_huge_bodies_are_refused(erp: Erp) -> None:
    malformed = erp.http.post(
        "/erp/v1/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    huge = erp.http.post("/erp/v1/items", json={"item_id": "BIG", "description": "x" * 2_000_000})
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")
    keyed = erp.http.post(
        "/erp/v1/items",
        json={"item_id": "BIG", "description": "x" * 2_000_000},
        headers={"Idempotency-Key": unique("k")},
    )
    assert keyed.status_code == 413
    assert erp.http.get("/erp/v1/items/BIG").status_code == 404


def test_unknown_records_are_404_problems(erp: Erp) -> None:
    for path in (
        "/erp/v1/items/NOPE",
        "/erp/v1/lots/NOPE",
        "/erp/v1/purchase-orders/NOPE",
        "/erp/v1/nothing",
    ):
        problem(
            erp.http.get(path),
            404,
            "not-found"
            if path.endswith("nothing")
            else path.split("/")[3][:-1].replace("purchase-order", "purchase-order") + "-not-found",
        )


def test_keyset_pages_and_delta_sync_see_every_change_once(erp: Erp) -> None:
    prefix = unique("PG")
    for n in range(5):
        erp.http.post("/erp/v1/items", json={"item_id": f"{prefix}-{n}", "description": f"part {n}"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "item_type": "raw_material", **({"cursor": cursor} if cursor else {})}
        page = erp.http.get("/erp/v1/items", params=params).json()
        seen += [i["item_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    mine = [s for s in seen if s.startswith(prefix)]
    assert mine == [f"{prefix}-{n}" for n in range(5)]
    assert len(seen) == len(set(seen))

    last = erp.http.get(f"/erp/v1/items/{prefix}-4").json()["updated_at"]
    changed = erp.http.patch(f"/erp/v1/items/{prefix}-1", json={"description": "part one, revised"})
    assert changed.status_code == 200
    delta = erp.http.get("/erp/v1/items", params={"updated_since": last}).json()["items"]
    assert [i["item_id"] for i in delta] == [f"{prefix}-1"]
    # Garbage; and one of the right shape at an instant that cannot be turned to UTC.
    far = base64.urlsafe_b64encode(b'["9999-12-31T23:00:00-14:00","x"]').decode()
    nul = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00","a\\u0000b"]').decode()
    for cursor in ("garbage", far, nul):
        problem(erp.http.get("/erp/v1/items", params={"cursor": cursor}), 422, "invalid-cursor")
    problem(erp.http.get("/erp/v1/items", params={"updated_since": "yesterday"}), 422, "invalid-date-time")


def test_health_and_correlation(erp: Erp) -> None:
    ready = erp.http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    echoed = erp.http.get("/erp/v1/items", headers={"X-Correlation-ID": "corr-123"})
    assert echoed.headers["x-correlation-id"] == "corr-123"
    assert echoed.headers["traceparent"].startswith("00-")
    metrics = erp.http.get("/metrics").text
    assert 'plantbridge_http_requests_total{method="GET",route="/erp/v1/items"' in metrics.replace(
        'service="erp",', ""
    )
