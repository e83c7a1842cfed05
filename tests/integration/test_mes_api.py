"""MES system API in process (its whole ASGI stack, no socket), on real SQLite and PostgreSQL.

Every edge of the production order and equipment state machines is driven through the API, and
every refused action is tried in every state (a 409 naming it, changing nothing). Genealogy:
which input lots went into which order, and which orders used a given lot.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from system_apis.mes import domain
from tests.support.db import events, rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, ok, problem, unique
from tests.support.walks import Walk, check_refusals, check_transition

SCOPES = ["mes:read", "mes:write"]
API = "/mes/v1"


@pytest.fixture(scope="module", params=BACKENDS)
def mes(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"mes_api_{request.param}")
    with api_in_process(in_process, "mes", url, scopes=SCOPES) as api:
        yield api


def equipment_body(**overrides: object) -> Body:
    return {
        "equipment_id": unique("EQ"),
        "description": "Injection moulding machine 250 t",
        "work_centre": "WC-MOULD",
        "site": "PLANT-1",
        **overrides,
    }


def new_equipment(http: httpx.Client, **overrides: object) -> Body:
    return ok(http.post(f"{API}/equipment", json=equipment_body(**overrides)), 201)


def order_body(http: httpx.Client, **overrides: object) -> Body:
    machine = new_equipment(http)["equipment_id"]
    return {
        "item_id": "FG-HOUSING-7",
        "planned_quantity": 500,
        "site": "PLANT-1",
        "uom": "EA",
        "planned_start": "2030-04-01T06:00:00Z",
        "planned_end": "2030-04-01T22:00:00Z",
        "operations": [
            {"op_no": 10, "work_centre": "WC-MOULD", "equipment_id": machine, "description": "Mould"},
            {"op_no": 20, "work_centre": "WC-PACK", "description": "Deburr and pack"},
        ],
        **overrides,
    }


def new_order(http: httpx.Client, **overrides: object) -> httpx.Response:
    return http.post(f"{API}/production-orders", json=order_body(http, **overrides))


def running_order(http: httpx.Client, **overrides: object) -> Body:
    order = ok(new_order(http, **overrides), 201)
    ok(http.post(f"{API}/production-orders/{order['order_id']}/release"))
    return ok(http.post(f"{API}/production-orders/{order['order_id']}/start"))


HOLD = {
    "reason": "Machine fault, maintenance requested",
    "maintenance_request_id": "MR-42",
    "nonconformance_id": "NC-7",
}
WALKS = {
    "production order": Walk(
        API,
        "production-orders",
        "order_id",
        new_order,
        {
            "release": ("release", {}),
            "start": ("start", {}),
            "hold": ("hold", HOLD),
            "resume": ("resume", {}),
            "complete": ("complete", {}),
            "close": ("close", {}),
            "cancel": ("cancel", {"reason": "Customer order withdrawn"}),
        },
        {
            "planned": [],
            "released": ["release"],
            "running": ["release", "start"],
            "held": ["release", "start", "hold"],
            "completed": ["release", "start", "complete"],
            "closed": ["release", "start", "complete", "close"],
            "cancelled": ["cancel"],
        },
        "mes.production_order.status_changed.v1",
        domain.PRODUCTION_ORDER,
    ),
    "equipment": Walk(
        API,
        "equipment",
        "equipment_id",
        lambda http: http.post(f"{API}/equipment", json=equipment_body()),
        {
            "run": ("state", {"state": "running"}),
            "idle": ("state", {"state": "idle", "reason": "No order"}),
            "down": ("state", {"state": "down", "reason": "Hydraulic fault"}),
            "disconnect": ("state", {"state": "disconnected"}),
        },
        {"idle": [], "running": ["run"], "down": ["down"], "disconnected": ["disconnect"]},
        "mes.equipment.state_changed.v1",
        domain.EQUIPMENT,
        state_field="state",
    ),
}
EDGES = [(name, str(a), b, str(c)) for name, walk in WALKS.items() for a, b, c in walk.machine.edges()]
STATES = [(name, str(state)) for name, walk in WALKS.items() for state in walk.machine.states]


@pytest.mark.parametrize(("name", "source", "action", "target"), EDGES, ids=str)
async def test_every_transition_over_http(mes: Api, name: str, source: str, action: str, target: str) -> None:
    await check_transition(WALKS[name], mes.http, mes.database_url, source, action, target)


@pytest.mark.parametrize(("name", "state"), STATES, ids=str)
async def test_every_illegal_transition_is_409_naming_the_state(mes: Api, name: str, state: str) -> None:
    await check_refusals(WALKS[name], mes.http, mes.database_url, state)


# --- production orders -----------------------------------------------------------------------------
async def test_hold_carries_its_reason_and_resume_clears_it(mes: Api) -> None:
    order = running_order(mes.http)
    order_id = order["order_id"]
    held = ok(mes.http.post(f"{API}/production-orders/{order_id}/hold", json=HOLD))
    assert (held["status"], held["hold_reason"], held["maintenance_request_id"]) == (
        "held",
        HOLD["reason"],
        "MR-42",
    )
    assert held["allowed_actions"] == ["resume", "complete"]
    kind, data = (await events(mes.database_url, order_id))[-1]
    assert kind == "mes.production_order.status_changed.v1"
    assert (data["reason"], data["maintenance_request_id"], data["nonconformance_id"]) == (
        HOLD["reason"],
        "MR-42",
        "NC-7",
    )
    assert data["equipment_ids"] == [order["operations"][0]["equipment_id"]]
    resumed = ok(mes.http.post(f"{API}/production-orders/{order_id}/resume"))
    assert (resumed["status"], resumed["hold_reason"]) == ("running", None)
    problem(mes.http.post(f"{API}/production-orders/{order_id}/hold", json={}), 400, "validation")


async def test_confirmations_roll_up_to_the_order(mes: Api) -> None:
    order = running_order(mes.http)
    order_id = order["order_id"]
    path = f"{API}/production-orders/{order_id}/confirmations"
    ok(
        mes.http.post(
            path, json={"op_no": 10, "good_quantity": 300, "scrap_quantity": 4, "person_id": "P-3"}
        ),
        201,
    )
    ok(
        mes.http.post(
            path, json={"op_no": 20, "good_quantity": 295, "scrap_quantity": 5, "scrap_reason": "Burr"}
        ),
        201,
    )
    last = ok(mes.http.post(path, json={"op_no": 20, "scrap_quantity": 1}), 201)
    assert (last["work_centre"], last["good_quantity"], last["scrap_quantity"]) == ("WC-PACK", 0.0, 1.0)
    current = ok(mes.http.get(f"{API}/production-orders/{order_id}"))
    assert (current["good_quantity"], current["scrap_quantity"]) == (295.0, 10.0)
    assert [(op["good_quantity"], op["scrap_quantity"]) for op in current["operations"]] == [
        (300, 4),
        (295, 6),
    ]
    listed = ok(mes.http.get(path))["items"]
    assert [c["op_no"] for c in listed] == [10, 20, 20]
    assert listed[0]["equipment_id"] == order["operations"][0]["equipment_id"]

    confirmed = [d for k, d in await events(mes.database_url, order_id) if k == "mes.operation.confirmed.v1"]
    assert [(d["op_no"], d["order_good_quantity"], d["order_scrap_quantity"]) for d in confirmed] == [
        (10, 0.0, 4.0),
        (20, 295.0, 9.0),
        (20, 295.0, 10.0),
    ]
    problem(mes.http.post(path, json={"op_no": 30, "good_quantity": 1}), 422, "unknown-operation")
    problem(mes.http.post(path, json={"op_no": 10}), 422, "empty-confirmation")
    problem(mes.http.post(path, json={"op_no": 10, "good_quantity": -1}), 400, "validation")
    problem(
        mes.http.post(path, json={"op_no": 10, "good_quantity": 1, "equipment_id": "EQ-NOPE"}),
        422,
        "unknown-equipment",
    )
    stored = await rows(
        mes.database_url, "SELECT count(*) FROM confirmations WHERE order_id = :o", o=order_id
    )
    assert stored[0][0] == 3

    ok(mes.http.post(f"{API}/production-orders/{order_id}/hold", json={"reason": "Material shortage"}))
    body = problem(mes.http.post(path, json={"op_no": 10, "good_quantity": 1}), 409, "illegal-transition")
    assert body["current_state"] == "held"


async def test_batch_completion_names_the_output_lot(mes: Api) -> None:
    order = running_order(mes.http)
    order_id = order["order_id"]
    lot_id = unique("LOT")
    path = f"{API}/production-orders/{order_id}/batches"
    batch = ok(mes.http.post(path, json={"quantity": 250, "lot_id": lot_id, "location": "FG-01"}), 201)
    assert (batch["lot_id"], batch["item_id"], batch["quantity"], batch["site"]) == (
        lot_id,
        "FG-HOUSING-7",
        250.0,
        "PLANT-1",
    )
    assert ok(mes.http.get(f"{API}/production-orders/{order_id}"))["lot_id"] == lot_id
    second = ok(mes.http.post(path, json={"quantity": 45}), 201)
    assert second["lot_id"] == lot_id  # later batches default to the order's output lot
    kinds = [(k, d) for k, d in await events(mes.database_url, order_id) if k == "mes.batch.completed.v1"]
    assert [(d["lot_id"], d["quantity"], d["location"]) for _, d in kinds] == [
        (lot_id, 250.0, "FG-01"),
        (lot_id, 45.0, None),
    ]
    made = ok(mes.http.get(f"{API}/batches", params={"lot_id": lot_id}))["items"]
    assert {b["order_id"] for b in made} == {order_id}
    assert len(ok(mes.http.get(path))["items"]) == 2
    ok(mes.http.post(f"{API}/production-orders/{order_id}/complete"))
    body = problem(mes.http.post(path, json={"quantity": 1}), 409, "illegal-transition")
    assert body["current_state"] == "completed"


async def test_genealogy_which_orders_used_a_lot(mes: Api) -> None:
    resin_lot = unique("LOT-RESIN")
    first = running_order(mes.http)
    second = running_order(mes.http, item_id="FG-COVER-2")
    for order, quantity in ((first, 120.5), (second, 80)):
        used = ok(
            mes.http.post(
                f"{API}/production-orders/{order['order_id']}/consumptions",
                json={
                    "item_id": "RM-PA66",
                    "lot_id": resin_lot,
                    "quantity": quantity,
                    "uom": "KG",
                    "op_no": 10,
                },
            ),
            201,
        )
        assert (used["output_item_id"], used["lot_id"]) == (order["item_id"], resin_lot)
    ok(
        mes.http.post(
            f"{API}/production-orders/{first['order_id']}/consumptions",
            json={"item_id": "RM-PIGMENT", "lot_id": unique("LOT"), "quantity": 1.5, "uom": "KG"},
        ),
        201,
    )
    where_used = ok(mes.http.get(f"{API}/consumptions", params={"lot_id": resin_lot}))["items"]
    assert [(c["order_id"], c["quantity"]) for c in where_used] == [
        (first["order_id"], 120.5),
        (second["order_id"], 80.0),
    ]
    went_in = ok(mes.http.get(f"{API}/production-orders/{first['order_id']}/consumptions"))["items"]
    assert [c["item_id"] for c in went_in] == ["RM-PA66", "RM-PIGMENT"]
    by_item = ok(mes.http.get(f"{API}/consumptions", params={"item_id": "RM-PA66", "lot_id": resin_lot}))[
        "items"
    ]
    assert len(by_item) == 2
    [data] = [
        d for k, d in await events(mes.database_url, second["order_id"]) if k == "mes.material.consumed.v1"
    ]
    assert (data["lot_id"], data["quantity"], data["output_item_id"], data["op_no"]) == (
        resin_lot,
        80.0,
        "FG-COVER-2",
        10,
    )
    problem(
        mes.http.post(
            f"{API}/production-orders/{first['order_id']}/consumptions",
            json={"item_id": "RM-PA66", "quantity": 1, "op_no": 99},
        ),
        422,
        "unknown-operation",
    )
    planned = ok(new_order(mes.http), 201)
    body = problem(
        mes.http.post(
            f"{API}/production-orders/{planned['order_id']}/consumptions",
            json={"item_id": "X", "quantity": 1},
        ),
        409,
        "illegal-transition",
    )
    assert body["current_state"] == "planned"
    problem(mes.http.get(f"{API}/production-orders/PRD-NOPE/consumptions"), 404, "production-order-not-found")


async def test_order_creation_rules_and_filters(mes: Api) -> None:
    order_id = unique("PRD")
    created = ok(new_order(mes.http, order_id=order_id, lot_id="LOT-PLANNED-1"), 201)
    assert (created["status"], created["allowed_actions"], created["lot_id"]) == (
        "planned",
        ["release", "cancel"],
        "LOT-PLANNED-1",
    )
    problem(new_order(mes.http, order_id=order_id), 409, "production-order-exists")
    ops = [{"op_no": 10, "work_centre": "WC-A"}, {"op_no": 10, "work_centre": "WC-B"}]
    problem(new_order(mes.http, operations=ops), 422, "duplicate-operation")
    problem(new_order(mes.http, operations=[]), 400, "validation")
    problem(
        new_order(mes.http, operations=[{"op_no": 10, "work_centre": "WC-A", "equipment_id": "EQ-NOPE"}]),
        422,
        "unknown-equipment",
    )
    problem(new_order(mes.http, planned_end="2030-03-01T00:00:00Z"), 422, "invalid-window")
    machine = created["operations"][0]["equipment_id"]
    for params in (
        {"equipment_id": machine},
        {"lot_id": "LOT-PLANNED-1"},
        {"item_id": "FG-HOUSING-7", "equipment_id": machine},
    ):
        found = ok(mes.http.get(f"{API}/production-orders", params=params))["items"]
        assert [o["order_id"] for o in found] == [order_id]
    planned = ok(mes.http.get(f"{API}/production-orders", params={"status": "planned", "limit": 500}))[
        "items"
    ]
    assert order_id in [o["order_id"] for o in planned]
    problem(mes.http.get(f"{API}/production-orders", params={"status": "paused"}), 400, "validation")


# --- equipment ---------------------------------------------------------------------------------------
async def test_equipment_state_history(mes: Api) -> None:
    machine = new_equipment(mes.http, work_centre="WC-PRESS-9")
    equipment_id = machine["equipment_id"]
    order = running_order(mes.http)
    path = f"{API}/equipment/{equipment_id}/state"
    ok(mes.http.post(path, json={"state": "running", "order_id": order["order_id"]}))
    down = ok(mes.http.post(path, json={"state": "down", "reason": "Hydraulic leak"}))
    assert (down["state"], down["state_reason"]) == ("down", "Hydraulic leak")
    ok(mes.http.post(path, json={"state": "idle"}))
    history = ok(mes.http.get(f"{API}/equipment/{equipment_id}/state-changes"))["items"]
    assert [(h["from_state"], h["to_state"], h["reason"]) for h in history] == [
        ("idle", "running", None),
        ("running", "down", "Hydraulic leak"),
        ("down", "idle", None),
    ]
    assert history[0]["order_id"] == order["order_id"]
    staged = await events(mes.database_url, equipment_id)
    assert [d["to_state"] for _, d in staged] == ["running", "down", "idle"]
    assert staged[1][1]["work_centre"] == "WC-PRESS-9"
    problem(
        mes.http.post(path, json={"state": "running", "order_id": "PRD-NOPE"}),
        422,
        "unknown-production-order",
    )
    problem(mes.http.post(path, json={"state": "broken"}), 400, "validation")
    problem(
        mes.http.post(f"{API}/equipment", json=equipment_body(equipment_id=equipment_id)),
        409,
        "equipment-exists",
    )
    listed = ok(mes.http.get(f"{API}/equipment", params={"work_centre": "WC-PRESS-9", "state": "idle"}))[
        "items"
    ]
    assert [e["equipment_id"] for e in listed] == [equipment_id]
    problem(mes.http.get(f"{API}/equipment/EQ-NOPE/state-changes"), 404, "equipment-not-found")


async def test_stale_if_match_is_412_and_changes_nothing(mes: Api) -> None:
    order = ok(new_order(mes.http), 201)
    order_id = order["order_id"]
    problem(
        mes.http.post(f"{API}/production-orders/{order_id}/release", headers={"If-Match": '"99"'}),
        412,
        "stale-version",
    )
    assert ok(mes.http.get(f"{API}/production-orders/{order_id}"))["status"] == "planned"
    released = mes.http.post(
        f"{API}/production-orders/{order_id}/release", headers={"If-Match": f'"{order["version"]}"'}
    )
    assert ok(released)["status"] == "released"
