"""The quality flows end to end with the ERP API in front of a real Tryton: gateway, ERP
(ERP_BACKEND=tryton), QMS, MES and the quality process as processes on loopback, events over a
real Redis, and what Tryton holds checked through Tryton's own RPC."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from plantbridge.tryton import TrytonServer
from tests.e2e.test_quality_flows import balances, decide, inspection_lot_for, receive_inspected_goods
from tests.erp_tryton.killswitch import KillSwitch
from tests.support.http import client
from tests.support.platform import Platform
from tests.support.tryton import Rpc, add_user, erp_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(
    launch, database_url, redis_server, tryton: TrytonServer, switch: KillSwitch
) -> Iterator[Platform]:
    p = Platform(launch, database_url, "sqlite", "quality_tryton", redis_server.url)
    p.start_gateway()
    p.start("erp", **{**erp_settings(tryton), "tryton_url": switch.url})  # ERP → proxy → Tryton
    for name in ("qms", "mes", "xref"):
        p.start(name)
    p.start(
        "quality",
        **p.own_client("quality"),
        erp_url=p.services["erp"].url,
        qms_url=p.services["qms"].url,
        mes_url=p.services["mes"].url,
        xref_url=p.services["xref"].url,
        flow_max_backoff_seconds="1",
        flow_max_attempts="60",
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def erp(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["erp"], scopes=["erp:read", "erp:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def qms(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def quality(platform: Platform) -> Iterator[httpx.Client]:
    with client(platform.services["quality"], scopes=["quality:read", "quality:write"]) as http:
        yield http


def quantity_in(rpc: Rpc, location_code: str, lot_number: str) -> float:
    """What Tryton says one of its locations holds of a lot (Tryton's own stock computation)."""
    [location] = rpc("stock.location", "search", [("code", "=", location_code)], 0, 1, None)
    [lot] = rpc("stock.lot", "search", [("number", "=", lot_number)], 0, 1, None)
    rpc.client.context["locations"] = [location]
    try:
        [found] = rpc("stock.lot", "read", [lot], ["quantity"])
    finally:
        rpc.client.context.pop("locations")
    return float(found["quantity"])


def test_a_receipt_of_an_inspected_item_gets_an_inspection_lot(erp, qms, quality, admin) -> None:
    receipt = receive_inspected_goods(erp, "corr-tryton-receipt")
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    assert (lot["origin"], lot["source_ref"]) == ("goods_receipt", receipt["receipt_id"])
    assert quantity_in(admin, "WH1-QI", receipt["lot_id"]) == 60.0


def test_a_failed_inspection_blocks_stock_in_tryton_and_opens_nc_and_case(erp, qms, quality, admin) -> None:
    correlation_id = f"corr-tryton-block-{uuid.uuid4().hex[:8]}"
    receipt = receive_inspected_goods(erp, correlation_id)
    lot = eventually(lambda: inspection_lot_for(qms, receipt["lot_id"]))
    decide(qms, lot, passed=False, disposition="block", correlation_id=correlation_id)
    eventually(lambda: balances(erp, receipt["lot_id"]) == {"BLOCKED": 60.0})
    flow = eventually(
        lambda: next(
            (
                f
                for f in quality.get(
                    "/quality/v1/flows", params={"lot_id": receipt["lot_id"], "type": "usage_decision"}
                ).json()["items"]
                if f["status"] == "completed"
            ),
            None,
        )
    )
    results = {s["name"]: s["result"] for s in flow["steps"]}  # by name: the steps vary by rules
    nc = qms.get(f"/qms/v1/nonconformances/{results['open_nonconformance']['nc_id']}").json()
    case = qms.get(f"/qms/v1/supplier-cases/{results['open_supplier_case']['supplier_case_id']}").json()
    assert (nc["lot_id"], case["supplier_id"], flow["correlation_id"]) == (
        receipt["lot_id"],
        receipt["supplier_id"],
        correlation_id,
    )
    assert quantity_in(admin, "WH1-BLK", receipt["lot_id"]) == 60.0
    assert quantity_in(admin, "WH1-QI", receipt["lot_id"]) == 0.0


def test_a_completed_batch_is_received_for_inspection_then_released(erp, qms, quality, admin) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    item = f"FG-{tag}"
    made = erp.post(
        "/erp/v1/items",
        json={
            "item_id": item,
            "description": "Shaft",
            "item_type": "finished_good",
            "inspection_required": True,
        },
    )
    assert made.status_code == 201, made.text
    flow = quality.post(
        "/quality/v1/flows/production-inspection",
        json={
            "order_id": f"MO-{tag}",
            "item_id": item,
            "lot_id": f"LOT-{tag}",
            "quantity": 25,
            "location": "FG1",
        },
    )
    assert flow.status_code == 201, flow.text
    lot = eventually(lambda: inspection_lot_for(qms, f"LOT-{tag}"))
    assert balances(erp, f"LOT-{tag}") == {"QUALITY_INSPECTION": 25.0}
    decide(qms, lot, passed=True, disposition="release", correlation_id="corr-tryton-batch")
    eventually(lambda: balances(erp, f"LOT-{tag}") == {"UNRESTRICTED": 25.0})
    assert quantity_in(admin, "FG1", f"LOT-{tag}") == 25.0


@pytest.fixture(scope="module")
def clerk(admin: Rpc, tryton: TrytonServer) -> Iterator[Rpc]:
    """A person at the dock with Tryton's client: a Tryton user of their own."""
    add_user(admin, "clerk", "clerk-Passw0rd-42")
    rpc = Rpc(tryton, "clerk", "clerk-Passw0rd-42")
    yield rpc
    rpc.close()


def test_a_receipt_done_in_tryton_starts_the_inspection_and_a_block_lands_in_tryton(
    erp, qms, quality, clerk
) -> None:
    """The clerk receives in Tryton's usual two steps (dock, then the quality-inspection
    location): our poller announces the receipt, the flow opens an inspection lot, and the
    block decision moves the quantity into Tryton's blocked location."""
    tag = uuid.uuid4().hex[:6].upper()
    item, supplier = f"RM-{tag}", f"SUP-{tag}"
    erp.post("/erp/v1/items", json={"item_id": item, "description": "Bar", "inspection_required": True})
    erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Acme"})
    po = erp.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": 80}]},
    ).json()

    [purchase] = clerk(
        "purchase.purchase", "search_read", [("number", "=", po["po_id"])], 0, 1, None, ["party"]
    )
    [move] = clerk(
        "stock.move",
        "search_read",
        [
            ("origin", "like", "purchase.line,%"),
            ("state", "=", "draft"),
            ("product.code", "=", item),
        ],
        0,
        1,
        None,
        ["product"],
    )
    [qi] = clerk("stock.location", "search", [("code", "=", "WH1-QI")], 0, 1, None)
    [house] = clerk("stock.location", "search_read", [("code", "=", "WH")], 0, 1, None, ["input_location"])
    [lot] = clerk("stock.lot", "create", [{"number": f"LOT-DOCK-{tag}", "product": move["product"]}])
    [shipment] = clerk(
        "stock.shipment.in",
        "create",
        [
            {
                "supplier": purchase["party"],
                # What Tryton's client fills in from the warehouse, with storage set to inspection.
                "warehouse": house["id"],
                "warehouse_input": house["input_location"],
                "warehouse_storage": qi,
                "incoming_moves": [("add", [move["id"]]), ("write", [move["id"]], {"lot": lot})],
            }
        ],
    )
    clerk("stock.shipment.in", "receive", [shipment])
    clerk("stock.shipment.in", "do", [shipment])

    lot_id = f"LOT-DOCK-{tag}"
    inspection = eventually(lambda: inspection_lot_for(qms, lot_id))
    assert (inspection["origin"], inspection["supplier_id"]) == ("goods_receipt", supplier)
    assert balances(erp, lot_id) == {"QUALITY_INSPECTION": 80.0}
    decide(qms, inspection, passed=False, disposition="block", correlation_id=f"corr-dock-{tag}")
    eventually(lambda: quantity_in(clerk, "WH1-BLK", lot_id) == 80.0)
    assert quantity_in(clerk, "WH1-QI", lot_id) == 0.0


def test_sigkill_between_the_tryton_call_and_the_local_commit_moves_the_stock_once(
    platform, erp, qms, quality, admin, switch
) -> None:
    """Tryton has done the block's internal shipment, the ERP service dies before it commits or
    answers; restarted, the flow's retry finds the shipment by its key and completes: Tryton holds
    exactly one such move and our API one block transaction."""
    receipt = receive_inspected_goods(erp, "corr-tryton-kill")
    lot_id = receipt["lot_id"]
    inspection = eventually(lambda: inspection_lot_for(qms, lot_id))
    erp_process = platform.services["erp"]
    switch.arm("model.stock.shipment.internal.do", erp_process.kill)
    decide(qms, inspection, passed=False, disposition="block", correlation_id="corr-tryton-kill")
    assert switch.hit.wait(30), "the block never reached Tryton"
    assert quantity_in(admin, "WH1-BLK", lot_id) == 60.0  # done in Tryton, unknown to us
    assert erp_process.process is None

    erp_process.start()
    flow = eventually(
        lambda: next(
            (
                f
                for f in quality.get(
                    "/quality/v1/flows", params={"lot_id": lot_id, "type": "usage_decision"}
                ).json()["items"]
                if f["status"] == "completed"
            ),
            None,
        ),
        timeout=60,
    )
    assert "step_failed" in [
        e["kind"] for e in quality.get(f"/quality/v1/flows/{flow['flow_id']}/timeline").json()["entries"]
    ]
    [qi, blk] = [
        admin("stock.location", "search", [("code", "=", c)], 0, 1, None)[0] for c in ("WH1-QI", "WH1-BLK")
    ]
    moves = admin(
        "stock.move",
        "search_read",
        [("lot.number", "=", lot_id), ("from_location", "=", qi), ("to_location", "=", blk)],
        0,
        None,
        None,
        ["state", "quantity"],
    )
    assert [(mv["state"], mv["quantity"]) for mv in moves] == [("done", 60.0)]
    assert quantity_in(admin, "WH1-BLK", lot_id) == 60.0
    blocks = erp.get("/erp/v1/inventory-transactions", params={"lot_id": lot_id, "type": "block"}).json()
    assert len(blocks["items"]) == 1
    assert balances(erp, lot_id) == {"BLOCKED": 60.0}
