"""A purchase order flagged by quality stages one event that names the order, its supplier, the
alert, and the item and lot that failed: what purchasing and the supplier portal act on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_erp_api import SCOPES, Erp, make_po
from tests.support.db import events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import client


@pytest.fixture(scope="module", params=BACKENDS)
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Erp]:
    url = database_url(request.param, f"erp_alert_{request.param}")
    service = in_process("erp", database_url=url)
    with client(service, scopes=SCOPES) as http:
        yield Erp(service, url, http)
    service.stop()


async def test_a_quality_alert_event_names_order_supplier_item_and_lot(erp: Erp) -> None:
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
