"""What ERP records keep of what they were made from by name: each inventory transaction records
what moved where as its movement was planned (type, quantity, locations, the stock status it left
and the one it reached); a purchase order flagged by quality stages one event naming the order,
its supplier, the alert, and the item and lot that failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_erp_api import RELEASED, SCOPES, make_po, receive
from tests.support.db import events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, api_in_process

MOVED = ("type", "lot_id", "quantity", "location", "to_location", "from_status", "to_status", "order_ref")


@pytest.fixture(scope="module", params=BACKENDS)
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"erp_by_name_{request.param}")
    with api_in_process(in_process, "erp", url, scopes=SCOPES) as api:
        yield api


def test_each_transaction_records_what_moved_where(erp: Api) -> None:
    po_id, _ = make_po(erp.http)
    received = receive(erp.http, po_id).json()
    lot_id = received["lot_id"]
    moves = [
        {"type": "release", "quantity": 40, "location": "WH1", "quality_ref": RELEASED},
        {"type": "transfer", "quantity": 10, "location": "WH1", "to_location": "WH2"},
        {"type": "issue", "quantity": 5, "location": "WH2", "order_ref": "MO-7"},
    ]
    txn_ids = [received["txn_id"]]
    for move in moves:
        posted = erp.http.post("/erp/v1/inventory-transactions", json={"lot_id": lot_id, **move})
        assert posted.status_code == 201, posted.text
        txn_ids.append(posted.json()["txn_id"])

    stored = [erp.http.get(f"/erp/v1/inventory-transactions/{txn_id}").json() for txn_id in txn_ids]
    assert [tuple(t[name] for name in MOVED) for t in stored] == [
        ("receipt", lot_id, 40.0, "WH1", None, None, "QUALITY_INSPECTION", None),
        ("release", lot_id, 40.0, "WH1", None, "QUALITY_INSPECTION", "UNRESTRICTED", None),
        ("transfer", lot_id, 10.0, "WH1", "WH2", "UNRESTRICTED", "UNRESTRICTED", None),
        ("issue", lot_id, 5.0, "WH2", None, "UNRESTRICTED", None, "MO-7"),
    ]


async def test_a_quality_alert_event_names_order_supplier_item_and_lot(erp: Api) -> None:
    po_id, item = make_po(erp.http)
    supplier = erp.http.get(f"/erp/v1/purchase-orders/{po_id}").json()["supplier_id"]
    alert = {"item_id": item, "lot_id": "LOT-FAILED-1", "reason": "Hardness out of spec", "nc_id": "NC-9"}
    flagged = erp.http.post(f"/erp/v1/purchase-orders/{po_id}/quality-alerts", json=alert)
    assert flagged.status_code == 200, flagged.text
    [alert_id] = [a["alert_id"] for a in flagged.json()["quality_alerts"]]

    staged = await events(erp.database_url, po_id)
    alerted = [data for kind, data in staged if kind == "erp.purchase_order.quality_alert.v1"]
    assert alerted == [
        {
            "po_id": po_id,
            "alert_id": alert_id,
            "supplier_id": supplier,
            "item_id": item,
            "lot_id": "LOT-FAILED-1",
            "supplier_case_id": None,
        }
    ]
