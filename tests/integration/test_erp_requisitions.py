"""ERP purchase requisitions and item stock (added for spares replenishment), served in process
on real SQLite and real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import api_in_process


@pytest.fixture(scope="module", params=BACKENDS)
def erp(
    request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl
) -> Iterator[httpx.Client]:
    url = database_url(request.param, f"erp_req_{request.param}")
    with api_in_process(in_process, "erp", url) as api:
        yield api.http


def spare(erp: httpx.Client, stock: float, reorder_point: float = 5) -> str:
    item = f"SP-{uuid.uuid4().hex[:8].upper()}"
    made = erp.post(
        "/erp/v1/items",
        json={
            "item_id": item,
            "description": "Bearing",
            "item_type": "spare_part",
            "reorder_point": reorder_point,
            "standard_price": "12.5",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["standard_price"] == "12.5000"
    supplier = f"SUP-{item}"
    assert (
        erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Bearings Inc"}).status_code
        == 201
    )
    po = erp.post(
        "/erp/v1/purchase-orders",
        json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": stock}]},
    ).json()
    received = erp.post(
        "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": stock, "location": "WH"}
    )
    assert received.status_code == 201, received.text
    return item


def test_item_stock_sums_every_lot_against_the_reorder_point(erp: httpx.Client) -> None:
    item = spare(erp, stock=4)
    stock = erp.get(f"/erp/v1/items/{item}/stock").json()
    assert (
        stock["unrestricted"],
        stock["blocked"],
        stock["reorder_point"],
        stock["below_reorder_point"],
    ) == (4.0, 0.0, 5.0, True)
    assert erp.get("/erp/v1/items/NOPE/stock").status_code == 404


def test_an_item_has_one_open_requisition(erp: httpx.Client) -> None:
    item = spare(erp, stock=1)
    first = erp.post("/erp/v1/purchase-requisitions", json={"item_id": item, "quantity": 9})
    assert first.status_code == 201, first.text
    second = erp.post("/erp/v1/purchase-requisitions", json={"item_id": item, "quantity": 9})
    assert second.status_code == 409
    assert second.json()["type"].endswith(":requisition-open")
    assert second.json()["requisition_id"] == first.json()["requisition_id"]

    requisition = first.json()["requisition_id"]
    ordered = erp.post(f"/erp/v1/purchase-requisitions/{requisition}/order", json={})
    assert (ordered.status_code, ordered.json()["status"], ordered.json()["allowed_actions"]) == (
        200,
        "ordered",
        [],
    )
    assert erp.post(f"/erp/v1/purchase-requisitions/{requisition}/cancel", json={}).status_code == 409
    assert erp.post("/erp/v1/purchase-requisitions", json={"item_id": item, "quantity": 9}).status_code == 201


def test_racing_requisitions_for_one_item_make_one(erp: httpx.Client) -> None:
    item = spare(erp, stock=1)
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(
                lambda _: (
                    erp.post(
                        "/erp/v1/purchase-requisitions", json={"item_id": item, "quantity": 3}
                    ).status_code
                ),
                range(6),
            )
        )
    assert sorted(answers) == [201, 409, 409, 409, 409, 409]
    listed = erp.get("/erp/v1/purchase-requisitions", params={"item_id": item, "status": "open"}).json()[
        "items"
    ]
    assert len(listed) == 1


def test_a_requisition_for_an_unknown_item_is_422_and_changes_nothing(erp: httpx.Client) -> None:
    answer = erp.post("/erp/v1/purchase-requisitions", json={"item_id": "NO-SUCH-ITEM", "quantity": 1})
    assert answer.status_code == 422
    assert erp.get("/erp/v1/purchase-requisitions", params={"item_id": "NO-SUCH-ITEM"}).json()["items"] == []
