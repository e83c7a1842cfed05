"""MES downtime periods, the reported time of a state change and confirmations by equipment, in
process on real SQLite and PostgreSQL: what the shop-floor connector writes through."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_mes_api import API, SCOPES, new_equipment, running_order
from tests.support.db import events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, api_in_process, ok, problem


@pytest.fixture(scope="module", params=BACKENDS)
def mes_api(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"mes_downtime_{request.param}")
    with api_in_process(in_process, "mes", url, scopes=SCOPES) as api:
        yield api


def _at(offset_seconds: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


async def test_a_stop_opens_downtime_and_running_again_closes_it(mes_api: Api) -> None:
    equipment_id = new_equipment(mes_api.http, state="running")["equipment_id"]
    path = f"{API}/equipment/{equipment_id}/state"
    down_at = _at()
    down = ok(
        mes_api.http.post(
            path, json={"state": "down", "reason": "alarm E-204", "alarm": "E-204", "occurred_at": down_at}
        )
    )
    assert (down["state"], down["state_alarm"]) == ("down", "E-204")
    assert down["state_since"] == datetime.fromisoformat(down_at).isoformat().replace("+00:00", "Z")
    # The connection drops and comes back down: the same stop, one period.
    ok(mes_api.http.post(path, json={"state": "disconnected", "occurred_at": _at()}))
    ok(mes_api.http.post(path, json={"state": "down", "alarm": "E-204", "occurred_at": _at()}))
    periods = ok(mes_api.http.get(f"{API}/equipment/{equipment_id}/downtime"))["items"]
    assert [(p["alarm"], p["ended_at"]) for p in periods] == [("E-204", None)]
    up_at = _at()
    ok(mes_api.http.post(path, json={"state": "running", "occurred_at": up_at}))
    [period] = ok(mes_api.http.get(f"{API}/equipment/{equipment_id}/downtime"))["items"]
    assert datetime.fromisoformat(period["started_at"]) == datetime.fromisoformat(down_at)
    assert datetime.fromisoformat(period["ended_at"]) == datetime.fromisoformat(up_at)
    history = ok(mes_api.http.get(f"{API}/equipment/{equipment_id}/state-changes"))["items"]
    assert [h["to_state"] for h in history] == ["down", "disconnected", "down", "running"]
    assert datetime.fromisoformat(history[0]["changed_at"]) == datetime.fromisoformat(down_at)
    staged = [d for _, d in await events(mes_api.database_url, equipment_id)]
    assert [(d["to_state"], d["downtime_id"]) for d in staged] == [
        ("down", period["downtime_id"]),
        ("disconnected", None),
        ("down", None),
        ("running", period["downtime_id"]),
    ]
    problem(mes_api.http.get(f"{API}/equipment/EQ-NOPE/downtime"), 404, "equipment-not-found")


async def test_a_reported_time_never_runs_backwards_or_into_the_future(mes_api: Api) -> None:
    equipment_id = new_equipment(mes_api.http, state="running")["equipment_id"]
    path = f"{API}/equipment/{equipment_id}/state"
    first = ok(mes_api.http.post(path, json={"state": "idle", "occurred_at": _at()}))
    # Earlier than the current state: recorded as of the current state's start, not before it.
    second = ok(mes_api.http.post(path, json={"state": "down", "occurred_at": _at(-3600)}))
    assert second["state_since"] == first["state_since"]
    third = ok(mes_api.http.post(path, json={"state": "running", "occurred_at": _at(3600)}))
    assert datetime.fromisoformat(third["state_since"]) <= datetime.now(UTC)
    [period] = ok(mes_api.http.get(f"{API}/equipment/{equipment_id}/downtime"))["items"]
    assert period["started_at"] <= period["ended_at"]


def test_quantities_counted_on_an_equipment_go_to_the_order_running_on_it(mes_api: Api) -> None:
    order = running_order(mes_api.http)
    equipment_id = order["operations"][0]["equipment_id"]
    path = f"{API}/equipment/{equipment_id}/confirmations"
    confirmation = ok(mes_api.http.post(path, json={"good_quantity": 12, "scrap_quantity": 1}), 201)
    assert (confirmation["order_id"], confirmation["op_no"], confirmation["equipment_id"]) == (
        order["order_id"],
        10,
        equipment_id,
    )
    counted = ok(mes_api.http.get(f"{API}/production-orders/{order['order_id']}"))
    assert (counted["operations"][0]["good_quantity"], counted["scrap_quantity"]) == (12.0, 1.0)
    ok(mes_api.http.post(f"{API}/production-orders/{order['order_id']}/hold", json={"reason": "stop"}))
    problem(mes_api.http.post(path, json={"good_quantity": 3}), 409, "no-running-order")
    idle = new_equipment(mes_api.http)["equipment_id"]
    problem(
        mes_api.http.post(f"{API}/equipment/{idle}/confirmations", json={"good_quantity": 3}),
        409,
        "no-running-order",
    )
    problem(
        mes_api.http.post(f"{API}/equipment/EQ-NOPE/confirmations", json={"good_quantity": 3}),
        404,
        "equipment-not-found",
    )
    problem(mes_api.http.post(path, json={"good_quantity": -1}), 400, "validation")
    unchanged = ok(mes_api.http.get(f"{API}/production-orders/{order['order_id']}"))
    assert (unchanged["operations"][0]["good_quantity"], unchanged["scrap_quantity"]) == (12.0, 1.0)
