"""Changes made in Tryton itself reach our events through the watermark poller: none is missed
while the ERP service is down, and none is announced twice across restarts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from plantbridge.processes import ServiceProcess
from plantbridge.tryton import TrytonServer
from tests.support.db import rows
from tests.support.fixtures import Launch
from tests.support.http import client
from tests.support.tryton import Rpc, add_user, erp_settings
from tests.support.wait import eventually


@pytest.fixture(scope="module")
def clerk(tryton: TrytonServer) -> Iterator[Rpc]:
    admin = Rpc(tryton, "admin", "admin")
    add_user(admin, "wclerk", "wclerk-Passw0rd-42")
    admin.close()
    rpc = Rpc(tryton, "wclerk", "wclerk-Passw0rd-42")
    yield rpc
    rpc.close()


@pytest.fixture(scope="module")
def erp(launch: Launch, database_url, tryton: TrytonServer) -> Iterator[tuple[ServiceProcess, str]]:
    url = database_url("sqlite", "erp_changes_in")
    process = launch("erp", database_url=url, **erp_settings(tryton), tryton_poll_seconds="0.2")
    yield process, url
    process.stop()


def announced(database_url: str, lot_id: str) -> list[tuple[str, str]]:
    """Events staged in the ERP's outbox about this lot (sync: the test drives Tryton's RPC)."""
    found = asyncio.run(
        rows(
            database_url,
            "SELECT type, payload FROM kit_outbox WHERE CAST(payload AS TEXT) LIKE :lot ORDER BY seq",
            lot=f'%"{lot_id}"%',
        )
    )
    return [(r.type, bytes(r.payload).decode()) for r in found]


def test_changes_made_while_the_erp_service_is_down_are_announced_once(erp, clerk) -> None:
    process, database_url = erp
    tag = uuid.uuid4().hex[:6].upper()
    item, supplier = f"RM-{tag}", f"SUP-{tag}"
    with client(process, scopes=["erp:read", "erp:write"]) as http:
        assert (
            http.post(
                "/erp/v1/items", json={"item_id": item, "description": "Bar", "inspection_required": True}
            ).status_code
            == 201
        )
        assert (
            http.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"}).status_code == 201
        )
        po = http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 50}]},
        ).json()
    process.kill()

    # In Tryton, with the ERP service down: a receipt into inspection, then a release of 20.
    [move] = clerk(
        "stock.move",
        "search_read",
        [("origin", "like", "purchase.line,%"), ("state", "=", "draft"), ("product.code", "=", item)],
        0,
        1,
        None,
        ["product", "to_location"],
    )
    [purchase] = clerk(
        "purchase.purchase", "search_read", [("number", "=", po["po_id"])], 0, 1, None, ["party"]
    )
    codes = {
        c: clerk("stock.location", "search", [("code", "=", c)], 0, 1, None)[0]
        for c in ("WH1", "WH1-QI", "WH")
    }
    [uom] = clerk("product.product", "read", [move["product"]], ["default_uom"])
    unit = uom["default_uom"]
    lot_id = f"LOT-IN-{tag}"
    [lot] = clerk("stock.lot", "create", [{"number": lot_id, "product": move["product"]}])
    [shipment] = clerk(
        "stock.shipment.in",
        "create",
        [
            {
                "supplier": purchase["party"],
                "warehouse": codes["WH"],
                "warehouse_input": move["to_location"],
                "warehouse_storage": codes["WH1-QI"],
                "incoming_moves": [("add", [move["id"]]), ("write", [move["id"]], {"lot": lot})],
            }
        ],
    )
    clerk("stock.shipment.in", "receive", [shipment])
    clerk("stock.shipment.in", "do", [shipment])
    [internal] = clerk(
        "stock.shipment.internal",
        "create",
        [
            {
                "from_location": codes["WH1-QI"],
                "to_location": codes["WH1"],
                "moves": [
                    (
                        "create",
                        [
                            {
                                "product": move["product"],
                                "unit": unit,
                                "quantity": 20.0,
                                "lot": lot,
                                "from_location": codes["WH1-QI"],
                                "to_location": codes["WH1"],
                            }
                        ],
                    )
                ],
            }
        ],
    )
    for button in ("wait", "assign_try", "do"):
        clerk("stock.shipment.internal", button, [internal])

    process.start()

    def all_five() -> list[tuple[str, str]] | None:
        events = announced(database_url, lot_id)
        return events if len(events) >= 5 else None

    events = eventually(all_five, timeout=30, what=f"five events about {lot_id}")
    types = [t for t, _ in events]
    assert sorted(types) == sorted(
        [
            "erp.inventory_txn.posted.v1",  # the receipt
            "erp.stock.status_changed.v1",  # into QUALITY_INSPECTION
            "erp.goods_receipt.posted.v1",
            "erp.inventory_txn.posted.v1",  # the release
            "erp.stock.status_changed.v1",  # QUALITY_INSPECTION → UNRESTRICTED
        ]
    ), types
    receipt = next(payload for kind, payload in events if kind == "erp.goods_receipt.posted.v1")
    assert f'"po_id":"{po["po_id"]}"' in receipt
    assert f'"supplier_id":"{supplier}"' in receipt
    assert '"inspection_required":true' in receipt
    assert '"stock_status":"QUALITY_INSPECTION"' in receipt
    assert any('"type":"release"' in payload and '"quantity":20.0' in payload for _, payload in events)

    # Restarted again (a crash), with the look-back re-reading the same moves: nothing twice.
    process.kill()
    process.start()
    time.sleep(2)  # ten polls
    assert len(announced(database_url, lot_id)) == 5
    with client(process, scopes=["erp:read"]) as http:
        lot = http.get(f"/erp/v1/lots/{lot_id}").json()
        assert {b["status"]: b["quantity"] for b in lot["balances"]} == {
            "QUALITY_INSPECTION": 30.0,
            "UNRESTRICTED": 20.0,
        }
        assert (lot["supplier_id"], lot["origin"]) == (supplier, "purchase")
        releases = http.get(
            "/erp/v1/inventory-transactions", params={"lot_id": lot_id, "type": "release"}
        ).json()
        assert [t["quantity"] for t in releases["items"]] == [20.0]
