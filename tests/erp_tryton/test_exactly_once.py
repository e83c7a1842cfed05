"""Exactly once toward Tryton, which has no idempotency keys: for each command that creates
Tryton documents, the ERP service is SIGKILLed after Tryton committed the command's last step
and before the service could commit or answer; the same request again (same Idempotency-Key)
after a restart answers 201 and Tryton holds the documents once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from plantbridge.processes import ServiceProcess
from plantbridge.tryton import TrytonServer
from tests.erp_tryton.killswitch import KillSwitch
from tests.support.fixtures import Launch
from tests.support.http import client
from tests.support.tryton import Rpc, add_user, erp_settings

SCOPES = ["erp:read", "erp:write"]


@pytest.fixture(scope="module")
def erp(launch: Launch, database_url, tryton: TrytonServer, switch: KillSwitch) -> Iterator[ServiceProcess]:
    settings = {**erp_settings(tryton), "tryton_url": switch.url}
    process = launch("erp", database_url=database_url("sqlite", "erp_exactly_once"), **settings)
    yield process
    process.stop()


def killed_then_retried(
    erp: ServiceProcess, switch: KillSwitch, method: str, send: Callable[[httpx.Client], httpx.Response]
) -> httpx.Response:
    """Send once with the switch armed (the service dies), restart, send the same again."""
    switch.arm(method, erp.kill)
    with client(erp, scopes=SCOPES) as http, pytest.raises(httpx.TransportError):
        send(http)
    assert switch.hit.wait(30), f"{method} was never called"
    assert erp.process is None
    erp.start()
    with client(erp, scopes=SCOPES) as http:
        return send(http)


def count(admin: Rpc, model: str, domain: list[Any]) -> int:
    return len(admin(model, "search", domain, 0, None, None))


@pytest.fixture
def po(erp: ServiceProcess) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6].upper()
    with client(erp, scopes=SCOPES) as http:
        assert (
            http.post(
                "/erp/v1/items",
                json={"item_id": f"RM-{tag}", "description": "Bar", "inspection_required": True},
            ).status_code
            == 201
        )
        assert (
            http.post("/erp/v1/suppliers", json={"supplier_id": f"SUP-{tag}", "name": "Acme"}).status_code
            == 201
        )
        made = http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": f"SUP-{tag}", "lines": [{"item_id": f"RM-{tag}", "quantity": 100}]},
        )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_purchase_order(erp, switch, admin) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    with client(erp, scopes=SCOPES) as http:
        http.post("/erp/v1/items", json={"item_id": f"RM-{tag}", "description": "Bar"})
        http.post("/erp/v1/suppliers", json={"supplier_id": f"SUP-{tag}", "name": "Acme"})
    body = {"supplier_id": f"SUP-{tag}", "lines": [{"item_id": f"RM-{tag}", "quantity": 7}]}
    answer = killed_then_retried(
        erp,
        switch,
        "model.purchase.purchase.confirm",
        lambda http: http.post(
            "/erp/v1/purchase-orders", json=body, headers={"Idempotency-Key": f"po-{tag}"}
        ),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "open"
    assert count(admin, "purchase.purchase", [("party.code", "=", f"SUP-{tag}")]) == 1


def test_a_goods_receipt(erp, switch, admin, po) -> None:
    body = {"po_id": po["po_id"], "quantity": 30, "location": "WH1"}
    answer = killed_then_retried(
        erp,
        switch,
        "model.stock.shipment.in.receive",
        lambda http: http.post(
            "/erp/v1/goods-receipts", json=body, headers={"Idempotency-Key": f"gr-{po['po_id']}"}
        ),
    )
    assert answer.status_code == 201, answer.text
    item = po["lines"][0]["item_id"]
    assert count(admin, "stock.shipment.in", [("moves.product.code", "=", item)]) == 1
    with client(erp, scopes=SCOPES) as http:
        line = http.get(f"/erp/v1/purchase-orders/{po['po_id']}").json()["lines"][0]
        assert line["received_quantity"] == 30.0
        receipts = http.get("/erp/v1/goods-receipts", params={"po_id": po["po_id"]}).json()["items"]
        assert [r["receipt_id"] for r in receipts] == [answer.json()["receipt_id"]]


def test_a_block(erp, switch, admin, po) -> None:
    with client(erp, scopes=SCOPES) as http:
        lot_id = http.post(
            "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": 30, "location": "WH1"}
        ).json()["lot_id"]
    body = {"type": "block", "lot_id": lot_id, "quantity": 30, "location": "WH1"}
    answer = killed_then_retried(
        erp,
        switch,
        "model.stock.shipment.internal.do",
        lambda http: http.post(
            "/erp/v1/inventory-transactions", json=body, headers={"Idempotency-Key": f"blk-{lot_id}"}
        ),
    )
    assert answer.status_code == 201, answer.text
    assert (
        count(
            admin,
            "stock.move",
            [("lot.number", "=", lot_id), ("shipment", "like", "stock.shipment.internal,%")],
        )
        == 1
    )
    with client(erp, scopes=SCOPES) as http:
        assert http.get(f"/erp/v1/lots/{lot_id}").json()["balances"] == [
            {"location": "WH1", "status": "BLOCKED", "quantity": 30.0}
        ]


def test_a_production_receipt(erp, switch, admin) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    with client(erp, scopes=SCOPES) as http:
        http.post(
            "/erp/v1/items",
            json={"item_id": f"FG-{tag}", "description": "Shaft", "inspection_required": True},
        )
    body = {
        "production_order": f"MO-{tag}",
        "item_id": f"FG-{tag}",
        "quantity": 12,
        "location": "FG1",
        "lot_id": f"LOT-{tag}",
    }
    answer = killed_then_retried(
        erp,
        switch,
        "model.production.do",
        lambda http: http.post(
            "/erp/v1/production-receipts", json=body, headers={"Idempotency-Key": f"pr-{tag}"}
        ),
    )
    assert answer.status_code == 201, answer.text
    assert count(admin, "production", [("outputs.lot.number", "=", f"LOT-{tag}")]) == 1
    assert answer.json()["stock_status"] == "QUALITY_INSPECTION"


def test_a_command_that_tryton_refuses_is_a_409_and_one_it_denies_a_503(
    erp, admin, launch, database_url, tryton
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    with client(erp, scopes=SCOPES) as http:
        http.post("/erp/v1/items", json={"item_id": f"RM-{tag}", "description": "Bar"})
        http.post("/erp/v1/suppliers", json={"supplier_id": f"SUP-{tag}", "name": "Acme"})
        # Someone in Tryton stops buying the product: Tryton itself refuses the purchase line.
        [template] = admin(
            "product.product", "search_read", [("code", "=", f"RM-{tag}")], 0, 1, None, ["template"]
        )
        admin("product.template", "write", [template["template"]], {"purchasable": False})
        refused = http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": f"SUP-{tag}", "lines": [{"item_id": f"RM-{tag}", "quantity": 1}]},
        )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "urn:plantbridge:problem:erp-refused"
    assert "Product" in refused.json()["detail"]
    assert count(admin, "purchase.purchase", [("party.code", "=", f"SUP-{tag}")]) == 0

    add_user(admin, f"viewer-{tag}", "viewer-Passw0rd-42", every_group=False)
    settings = {
        **erp_settings(tryton),
        "tryton_user": f"viewer-{tag}",
        "tryton_password": "viewer-Passw0rd-42",
    }
    viewer = launch("erp", database_url=database_url("sqlite", f"erp_viewer_{tag.lower()}"), **settings)
    with client(viewer, scopes=SCOPES) as http:
        # Only Tryton's product administrators may create products.
        denied = http.post("/erp/v1/items", json={"item_id": f"RM2-{tag}", "description": "Bar"})
    viewer.stop()
    assert denied.status_code == 503, denied.text
    assert denied.json()["type"] == "urn:plantbridge:problem:erp-access-denied"
    assert count(admin, "product.product", [("code", "=", f"RM2-{tag}")]) == 0
