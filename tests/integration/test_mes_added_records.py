"""MES records added under a production order (confirmations, batches, consumptions): each POST
answers 201 with what was added, its Location the order's collection it joined, where a client
lists it; a stale If-Match adds nothing; and each stages the event its consumers read, as it was
(as is the equipment state change's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_mes_api import API, SCOPES, equipment_body, running_order
from tests.support.db import events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, ok, problem


@pytest.fixture(scope="module", params=BACKENDS)
def mes(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"mes_added_{request.param}")
    with api_in_process(in_process, "mes", url, scopes=SCOPES) as api:
        yield api


ADDED: list[tuple[str, Body]] = [
    ("confirmations", {"op_no": 10, "good_quantity": 5}),
    ("batches", {"quantity": 5}),
    ("consumptions", {"item_id": "RM-PA66", "quantity": 2}),
]


@pytest.mark.parametrize(("collection", "body"), ADDED, ids=[c for c, _ in ADDED])
def test_an_added_record_is_201_located_at_its_collection(mes: Api, collection: str, body: Body) -> None:
    order_id = running_order(mes.http)["order_id"]
    path = f"{API}/production-orders/{order_id}/{collection}"
    answer = mes.http.post(path, json=body)
    added = ok(answer, 201)
    assert answer.headers["location"] == path
    assert answer.headers["etag"]
    assert added["order_id"] == order_id
    assert [item["order_id"] for item in ok(mes.http.get(answer.headers["location"]))["items"]] == [order_id]


@pytest.mark.parametrize(("collection", "body"), ADDED, ids=[c for c, _ in ADDED])
def test_a_stale_if_match_adds_nothing(mes: Api, collection: str, body: Body) -> None:
    order_id = running_order(mes.http)["order_id"]
    path = f"{API}/production-orders/{order_id}/{collection}"
    problem(mes.http.post(path, json=body, headers={"If-Match": '"0"'}), 412, "stale-version")
    assert ok(mes.http.get(path))["items"] == []


async def test_the_events_of_added_records_name_the_order_and_what_was_added(mes: Api) -> None:
    order = running_order(mes.http)
    order_id, machine = order["order_id"], order["operations"][0]["equipment_id"]
    path = f"{API}/production-orders/{order_id}"
    confirmed = ok(mes.http.post(f"{path}/confirmations", json={"op_no": 10, "good_quantity": 5}), 201)
    batch = ok(mes.http.post(f"{path}/batches", json={"quantity": 5, "location": "FG-01"}), 201)
    body = {"item_id": "RM-PA66", "quantity": 2, "lot_id": "LOT-RESIN-1", "uom": "KG", "op_no": 10}
    consumed = ok(mes.http.post(f"{path}/consumptions", json=body), 201)

    staged = dict(await events(mes.database_url, order_id))
    order_fields = {"order_id": order_id, "item_id": "FG-HOUSING-7", "site": "PLANT-1"}
    assert staged["mes.operation.confirmed.v1"] == {
        **order_fields,
        "confirmation_id": confirmed["confirmation_id"],
        "op_no": 10,
        "work_centre": "WC-MOULD",
        "good_quantity": 5.0,
        "scrap_quantity": 0.0,
        "order_good_quantity": 0.0,
        "order_scrap_quantity": 0.0,
        "equipment_id": machine,
        "scrap_reason": None,
        "person_id": None,
    }
    assert staged["mes.batch.completed.v1"] == {
        **order_fields,
        "batch_id": batch["batch_id"],
        "lot_id": batch["lot_id"],
        "quantity": 5.0,
        "uom": "EA",
        "location": "FG-01",
    }
    assert staged["mes.material.consumed.v1"] == {
        "consumption_id": consumed["consumption_id"],
        "order_id": order_id,
        "item_id": "RM-PA66",
        "quantity": 2.0,
        "uom": "KG",
        "output_item_id": "FG-HOUSING-7",
        "site": "PLANT-1",
        "lot_id": "LOT-RESIN-1",
        "op_no": 10,
    }


async def test_an_equipment_state_change_event_names_the_change(mes: Api) -> None:
    equipment_id = ok(mes.http.post(f"{API}/equipment", json=equipment_body()), 201)["equipment_id"]
    before = ok(mes.http.get(f"{API}/equipment/{equipment_id}"))["state"]
    change = {"state": "down", "reason": "Hydraulic fault", "alarm": "E-42"}
    ok(mes.http.post(f"{API}/equipment/{equipment_id}/state", json=change))

    [(kind, data)] = await events(mes.database_url, equipment_id)
    assert kind == "mes.equipment.state_changed.v1"
    stamped = [data.pop(name) for name in ("occurred_at", "change_id", "downtime_id")]
    assert all(stamped)  # when, and the ids of the change and of the stop it opened
    assert data == {
        "equipment_id": equipment_id,
        "work_centre": "WC-MOULD",
        "site": "PLANT-1",
        "from_state": before,
        "to_state": "down",
        "reason": "Hydraulic fault",
        "order_id": None,
        "alarm": "E-42",
    }
