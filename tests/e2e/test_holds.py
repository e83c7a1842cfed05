"""Holds that hold, end to end through the gateway: clients registered at the gateway get tokens
there and call ERP and QMS through it; the quality process runs its flows against them; events
go over a real Redis. Nothing is mocked.

A plant's integration client (erp:write, qms:write, no erp:release) receives goods and posts the
supplier's invoice; QMS blocks the lot; the invoice cannot be paid and the stock cannot ship, and
the integration client cannot release the lot itself. Quality releases it (a use-as-is disposition
on the nonconformance): both work. Purchasing learns on the supplier's open orders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis import Redis

from plantbridge.processes import free_port
from tests.e2e.test_quality_flows import decide, inspection_lot_for
from tests.support.db import count
from tests.support.platform import Platform
from tests.support.wait import eventually

PLANT_SCOPES = ["erp:read", "erp:write", "qms:read", "qms:write", "quality:read"]


def routed_platform(platform: Platform, **erp_settings: str) -> Platform:
    """ERP, QMS and the quality process behind the platform's gateway, which routes to them."""
    p = platform
    ports = {name: free_port() for name in ("erp", "qms", "quality")}
    p.start_gateway(upstreams={name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    p.start("erp", port=ports["erp"], **erp_settings)
    p.start("qms", port=ports["qms"])
    p.start(
        "quality",
        port=ports["quality"],
        **p.own_client("quality"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
    )
    return p


@pytest.fixture(scope="module")
def platform(launch, database_url, redis_server) -> Iterator[Platform]:
    p = routed_platform(Platform(launch, database_url, "sqlite", "holds_e2e", redis_server.url))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def plant(platform: Platform) -> Iterator[httpx.Client]:
    with plant_client(platform) as http:
        yield http


def plant_client(platform: Platform) -> httpx.Client:
    """The plant's integration client, as the gateway issues it: it writes to ERP, but is not quality."""
    secret = platform.register_client("plant-integration", PLANT_SCOPES)
    assert platform.gateway is not None
    token = httpx.post(
        f"{platform.gateway.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": " ".join(PLANT_SCOPES)},
        auth=("plant-integration", secret),
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=platform.gateway.url, headers=headers, timeout=30)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:plantbridge:problem:{slug}"
    return body


def order(plant: httpx.Client, supplier: str, item: str, quantity: float) -> str:
    po = plant.post(
        "/erp/v1/purchase-orders",
        json={
            "supplier_id": supplier,
            "lines": [{"item_id": item, "quantity": quantity, "unit_price": "4.00"}],
        },
    )
    return str(ok(po, 201)["po_id"])


def flow(plant: httpx.Client, lot_id: str, flow_type: str) -> dict[str, Any] | None:
    found = plant.get("/quality/v1/flows", params={"lot_id": lot_id, "type": flow_type}).json()["items"]
    return next((f for f in found if f["status"] == "completed"), None)


def test_a_blocked_lot_is_neither_paid_nor_shipped_until_quality_releases_it(
    platform: Platform, plant: httpx.Client
) -> None:
    blocked_lot_scenario(platform, plant)


def blocked_lot_scenario(platform: Platform, plant: httpx.Client) -> None:
    """The scenario, for either system of record behind the ERP API."""
    tag = uuid.uuid4().hex[:6].upper()
    item, supplier, customer = f"RM-{tag}", f"SUP-{tag}", f"CUS-{tag}"
    ok(
        plant.post(
            "/erp/v1/items", json={"item_id": item, "description": "Bar", "inspection_required": True}
        ),
        201,
    )
    ok(plant.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}), 201)
    po_id = order(plant, supplier, item, 100)
    other_po = order(plant, supplier, item, 50)  # still open: purchasing must hear of it
    receipt = ok(
        plant.post("/erp/v1/goods-receipts", json={"po_id": po_id, "quantity": 60, "location": "WH1"}), 201
    )
    lot_id = receipt["lot_id"]
    bill = ok(
        plant.post(
            "/erp/v1/supplier-invoices",
            json={
                "po_id": po_id,
                "supplier_ref": f"INV-{tag}",
                "lines": [{"receipt_id": receipt["receipt_id"]}],
            },
        ),
        201,
    )
    assert (bill["total"], bill["payment_block"]["blocked"]) == ("240.00", False)

    # QMS blocks the lot: stock BLOCKED, the invoice on a payment hold, a supplier case on the order.
    inspection = eventually(lambda: inspection_lot_for(plant, lot_id))
    decide(plant, inspection, passed=False, disposition="block", correlation_id=f"corr-holds-{tag}")
    decided = eventually(lambda: flow(plant, lot_id, "usage_decision"))
    assert [s["name"] for s in decided["steps"] if s["status"] == "done"] == [
        "read_stock",
        "move_stock",
        "open_nonconformance",
        "open_supplier_case",
        "hold_payment",
        "confirm_stock_posted",
    ]
    assert {b["status"] for b in ok(plant.get(f"/erp/v1/lots/{lot_id}"))["balances"]} == {"BLOCKED"}
    invoice = ok(plant.get(f"/erp/v1/supplier-invoices/{bill['invoice_id']}"))
    assert invoice["payment_block"] == {"blocked": True, "lots": [lot_id]}
    refused(
        plant.post(f"/erp/v1/supplier-invoices/{bill['invoice_id']}/payment", json={}), 409, "payment-blocked"
    )
    # The customer exists (a party, as a supplier here): the delivery is refused for the hold alone.
    ok(plant.post("/erp/v1/suppliers", json={"supplier_id": customer, "name": "Buyer"}), 201)
    shipment = {"customer_id": customer, "lines": [{"lot_id": lot_id, "quantity": 10, "location": "WH1"}]}
    refused(plant.post("/erp/v1/deliveries", json=shipment), 409, "lot-on-hold")
    eligibility = ok(plant.get(f"/erp/v1/lots/{lot_id}/eligibility"))
    assert (eligibility["eligible_to_ship"], eligibility["reasons"][0]["reason"]) == (False, "blocked")
    assert eligibility["payment_hold"]["active"] is True

    # The procurement notice and the supplier case carry the order; the open orders are flagged.
    results = {step["name"]: step["result"] for step in decided["steps"]}
    case_id = results["open_supplier_case"]["supplier_case_id"]
    assert ok(plant.get(f"/qms/v1/supplier-cases/{case_id}"))["po_id"] == po_id
    [notice] = [e for e in platform.events("events.quality") if e.subject == lot_id]
    assert (notice.data["po_id"], notice.data["supplier_case_id"]) == (po_id, case_id)
    eventually(lambda: flow(plant, lot_id, "procurement_notice"))
    for flagged in (po_id, other_po):
        [alert] = ok(plant.get(f"/erp/v1/purchase-orders/{flagged}"))["quality_alerts"]
        assert (alert["lot_id"], alert["supplier_case_id"], alert["source_po_id"]) == (lot_id, case_id, po_id)

    # The integration client may write to ERP, but releasing held stock is quality's.
    unblock = {"type": "unblock", "lot_id": lot_id, "quantity": 60, "location": "WH1"}
    body = refused(
        plant.post("/erp/v1/inventory-transactions", json=unblock), 403, "quality-release-required"
    )
    assert body["missing"] == ["scope erp:release", "quality_ref"]
    forged = {
        **unblock,
        "quality_ref": {"kind": "nonconformance", "record_id": "NC-X", "disposition": "use_as_is"},
    }
    refused(plant.post("/erp/v1/inventory-transactions", json=forged), 403, "quality-release-required")
    lift = {
        "quality_ref": {
            "kind": "usage_decision",
            "record_id": inspection["inspection_lot_id"],
            "disposition": "release",
        }
    }
    refused(plant.post(f"/erp/v1/lots/{lot_id}/payment-hold/release", json=lift), 403, "insufficient-scope")
    assert {b["status"] for b in ok(plant.get(f"/erp/v1/lots/{lot_id}"))["balances"]} == {"BLOCKED"}

    # Quality releases it: use as is on the decision's nonconformance. Now both can happen.
    nc_id = results["open_nonconformance"]["nc_id"]
    ok(plant.patch(f"/qms/v1/nonconformances/{nc_id}", json={"disposition": "use_as_is"}))
    released = eventually(lambda: flow(plant, lot_id, "nc_disposition"))
    assert [s["name"] for s in released["steps"] if s["status"] == "done"] == [
        "move_stock",
        "release_payment",
    ]
    unblocked = ok(plant.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id, "type": "unblock"}))
    assert [t["quality_ref"] for t in unblocked["items"]] == [
        {"kind": "nonconformance", "record_id": nc_id, "disposition": "use_as_is"}
    ]
    paid = ok(plant.post(f"/erp/v1/supplier-invoices/{bill['invoice_id']}/payment", json={"reference": tag}))
    assert paid["status"] == "paid"
    shipped = ok(plant.post("/erp/v1/deliveries", json=shipment), 201)
    assert shipped["lines"][0]["quantity"] == 10.0

    # Replaying each new flow's events changes nothing a second time.
    erp_db = platform.database_url_of("erp")
    before = _state(plant, erp_db, lot_id, (po_id, other_po))
    replays = (
        ("events.qms", "qms.usage_decision.made.v1", inspection["inspection_lot_id"]),
        ("events.quality", "quality.procurement_notice.v1", lot_id),
        ("events.qms", "qms.nonconformance.updated.v1", nc_id),
    )
    for stream, event_type, containing in replays:
        assert platform.replay_event(stream, event_type, containing)
    for stream in {stream for stream, _type, _containing in replays}:
        eventually(lambda stream=stream: _read_to_the_end(platform, stream, "quality"))
    assert len(_flows(plant, lot_id)) == 3  # the replays started no new flow
    assert _state(plant, erp_db, lot_id, (po_id, other_po)) == before


def _read_to_the_end(platform: Platform, stream: str, group: str) -> bool:
    """The consumer group has taken and acknowledged everything on the stream."""
    redis = Redis.from_url(platform.redis_url)
    try:
        last = redis.xinfo_stream(stream)["last-generated-id"]
        [info] = [g for g in redis.xinfo_groups(stream) if g["name"] == group.encode()]
        return bool(info["last-delivered-id"] == last and info["pending"] == 0)
    finally:
        redis.close()


def _flows(plant: httpx.Client, lot_id: str) -> list[dict[str, Any]]:
    return [
        f
        for f in plant.get("/quality/v1/flows", params={"lot_id": lot_id}).json()["items"]
        if f["type"] in ("usage_decision", "procurement_notice", "nc_disposition")
    ]


def _state(plant: httpx.Client, erp_db: str, lot_id: str, orders: tuple[str, ...]) -> tuple[Any, ...]:
    """What the flows change in ERP, as the API shows it: the lot's movements, its payment hold,
    its invoices, the orders' alerts; and every event ERP announced."""
    movements = ok(plant.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id}))["items"]
    hold = ok(plant.get(f"/erp/v1/lots/{lot_id}/eligibility"))["payment_hold"]
    invoices = ok(plant.get("/erp/v1/supplier-invoices", params={"lot_id": lot_id}))["items"]
    alerts = [ok(plant.get(f"/erp/v1/purchase-orders/{po}"))["quality_alerts"] for po in orders]
    events = asyncio.run(count(erp_db, "kit_outbox"))
    return (
        sorted(t["txn_id"] for t in movements),
        (hold["active"], hold["version"]),
        sorted((i["invoice_id"], i["status"], i["version"]) for i in invoices),
        alerts,
        events,
    )
