"""Each inventory transaction records what moved where as its movement was planned: its type, the
quantity, the location (and where it went), the stock status it left and the one it reached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_erp_api import RELEASED, SCOPES, Erp, make_po, receive
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import client

MOVED = ("type", "lot_id", "quantity", "location", "to_location", "from_status", "to_status", "order_ref")


@pytest.fixture(scope="module", params=BACKENDS)
def erp(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Erp]:
    url = database_url(request.param, f"erp_txn_{request.param}")
    service = in_process("erp", database_url=url)
    with client(service, scopes=SCOPES) as http:
        yield Erp(service, url, http)
    service.stop()


def test_each_transaction_records_what_moved_where(erp: Erp) -> None:
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
