"""CMMS system API in process (its whole ASGI stack, no socket), on real SQLite and PostgreSQL.

Every edge of the asset, maintenance request and work order state machines is driven through
the API, and every refused action is tried in every state (a 409 naming it, changing nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from system_apis.cmms import domain
from tests.support.db import events, rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, ok, problem, unique
from tests.support.walks import Walk, check_refusals, check_transition

SCOPES = ["cmms:read", "cmms:write"]
API = "/cmms/v1"


@pytest.fixture(scope="module", params=BACKENDS)
def cmms(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"cmms_api_{request.param}")
    with api_in_process(in_process, "cmms", url, scopes=SCOPES) as api:
        yield api


def asset_body(**overrides: object) -> Body:
    return {
        "asset_id": unique("AST"),
        "tag": unique("P"),
        "description": "Hydraulic press 400 t",
        "site": "PLANT-1",
        "serial": "HP400-2231",
        "location": "HALL-2/BAY-4",
        "criticality": "A",
        "cost_centre": "CC-4711",
        **overrides,
    }


def new_asset(http: httpx.Client, **overrides: object) -> Body:
    return ok(http.post(f"{API}/assets", json=asset_body(**overrides)), 201)


def new_request(http: httpx.Client, asset_id: str | None = None, **overrides: object) -> httpx.Response:
    return http.post(
        f"{API}/maintenance-requests",
        json={
            "asset_id": asset_id or new_asset(http)["asset_id"],
            "description": "Press leaks oil at main cylinder",
            "type": "corrective",
            "priority": "high",
            **overrides,
        },
    )


def new_work_order(http: httpx.Client, **overrides: object) -> httpx.Response:
    body: Body = {
        "description": "Replace main cylinder seal",
        "type": "corrective",
        "assignee": "P-100",
        **overrides,
    }
    body.setdefault("asset_id", new_asset(http)["asset_id"])
    return http.post(f"{API}/work-orders", json=body)


COMPLETION = {"cause_code": "SEAL-WEAR", "correction_code": "REPLACE", "downtime_minutes": 95}
WALKS = {
    "asset": Walk(
        API,
        "assets",
        "asset_id",
        lambda http: http.post(f"{API}/assets", json=asset_body()),
        {
            "down": ("down", {"reason": "Oil leak, press stopped"}),
            "start_maintenance": ("start-maintenance", {"note": "Seal change"}),
            "restore": ("restore", {"note": "Pressure test passed"}),
            "retire": ("retire", {"note": "Replaced by HP-500"}),
        },
        {
            "in_service": [],
            "down": ["down"],
            "under_maintenance": ["start_maintenance"],
            "retired": ["retire"],
        },
        "cmms.asset.status_changed.v1",
        domain.ASSET,
    ),
    "maintenance request": Walk(
        API,
        "maintenance-requests",
        "request_id",
        new_request,
        {
            "accept": ("accept", {}),
            "reject": ("reject", {"reason": "Duplicate of an open request"}),
            "start": ("start", {}),
            "complete": ("complete", {}),
            "cancel": ("cancel", {"reason": "Leak stopped after re-tightening"}),
        },
        {
            "submitted": [],
            "accepted": ["accept"],
            "in_progress": ["accept", "start"],
            "completed": ["accept", "start", "complete"],
            "rejected": ["reject"],
            "cancelled": ["cancel"],
        },
        "cmms.maintenance_request.status_changed.v1",
        domain.REQUEST,
    ),
    "work order": Walk(
        API,
        "work-orders",
        "wo_id",
        new_work_order,
        {
            "release": ("release", {}),
            "start": ("start", {}),
            "hold": ("hold", {"reason": "Waiting for seal kit"}),
            "resume": ("resume", {}),
            "complete": ("complete", COMPLETION),
            "close": ("close", {}),
            "cancel": ("cancel", {"reason": "Planned twice"}),
            "costs_posted": ("costs-posted", {"reference": "ERP-DOC-1", "posting_ids": ["COST-1"]}),
        },
        {
            "created": [],
            "released": ["release"],
            "in_progress": ["release", "start"],
            "on_hold": ["release", "start", "hold"],
            # closing needs the costs posted: the technically complete order used here has them
            "technically_complete": ["release", "start", "complete", "costs_posted"],
            "closed": ["release", "start", "complete", "costs_posted", "close"],
            "cancelled": ["cancel"],
        },
        "cmms.work_order.status_changed.v1",
        domain.WORK_ORDER,
    ),
}
EDGES = [(name, str(a), b, str(c)) for name, walk in WALKS.items() for a, b, c in walk.machine.edges()]
STATES = [(name, str(state)) for name, walk in WALKS.items() for state in walk.machine.states]


@pytest.mark.parametrize(("name", "source", "action", "target"), EDGES, ids=str)
async def test_every_transition_over_http(
    cmms: Api, name: str, source: str, action: str, target: str
) -> None:
    await check_transition(WALKS[name], cmms.http, cmms.database_url, source, action, target)


@pytest.mark.parametrize(("name", "state"), STATES, ids=str)
async def test_every_illegal_transition_is_409_naming_the_state(cmms: Api, name: str, state: str) -> None:
    await check_refusals(WALKS[name], cmms.http, cmms.database_url, state)


# --- assets and downtime ------------------------------------------------------------------------
async def test_breakdown_and_restore_record_downtime_and_events(cmms: Api) -> None:
    asset = new_asset(cmms.http)
    asset_id = asset["asset_id"]
    assert (asset["status"], asset["allowed_actions"]) == (
        "in_service",
        ["down", "start_maintenance", "retire"],
    )
    failed_at = (datetime.now(UTC) - timedelta(minutes=90)).isoformat()
    down = ok(
        cmms.http.post(
            f"{API}/assets/{asset_id}/down", json={"reason": "Oil leak", "failure_time": failed_at}
        )
    )
    assert down["status"] == "down"
    ok(cmms.http.post(f"{API}/assets/{asset_id}/start-maintenance", json={"note": "Seal change"}))
    restored = ok(cmms.http.post(f"{API}/assets/{asset_id}/restore", json={}))
    assert restored["status"] == "in_service"

    [record] = ok(cmms.http.get(f"{API}/assets/{asset_id}/downtime"))["items"]
    assert record["reason"] == "Oil leak"
    assert record["ended_at"] is not None
    assert 89 <= record["minutes"] <= 200  # one stretch across down and maintenance, from the failure time

    staged = await events(cmms.database_url, asset_id)
    kinds = [k for k, _ in staged]
    assert kinds.count("cmms.asset.down.v1") == 1
    assert kinds[-1] == "cmms.asset.restored.v1"
    down_event = dict(staged)["cmms.asset.down.v1"]
    assert (down_event["downtime_id"], down_event["criticality"], down_event["site"]) == (
        record["downtime_id"],
        "A",
        "PLANT-1",
    )
    restored_event = staged[-1][1]
    assert (restored_event["downtime_id"], restored_event["minutes"]) == (
        record["downtime_id"],
        record["minutes"],
    )


async def test_asset_master_data_and_problems(cmms: Api) -> None:
    asset = new_asset(cmms.http)
    asset_id = asset["asset_id"]
    problem(cmms.http.post(f"{API}/assets", json=asset_body(asset_id=asset_id)), 409, "asset-exists")
    changed = cmms.http.patch(
        f"{API}/assets/{asset_id}", json={"criticality": "B"}, headers={"If-Match": f'"{asset["version"]}"'}
    )
    assert ok(changed)["criticality"] == "B"
    problem(
        cmms.http.patch(f"{API}/assets/{asset_id}", json={"criticality": "C"}, headers={"If-Match": '"1"'}),
        412,
        "stale-version",
    )
    problem(cmms.http.get(f"{API}/assets/NOPE-1"), 404, "asset-not-found")
    problem(
        cmms.http.post(f"{API}/assets/{asset_id}/down", json={"reason": "x", "foo": 1}), 400, "validation"
    )
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    problem(
        cmms.http.post(f"{API}/assets/{asset_id}/down", json={"reason": "x", "failure_time": future}),
        422,
        "invalid-date-time",
    )
    problem(
        cmms.http.post(f"{API}/assets/{asset_id}/down", json={"reason": "x", "work_order_id": "WO-NOPE"}),
        422,
        "unknown-work-order",
    )
    assert ok(cmms.http.get(f"{API}/assets/{asset_id}"))["status"] == "in_service"
    ok(cmms.http.post(f"{API}/assets/{asset_id}/retire", json={}))
    problem(cmms.http.patch(f"{API}/assets/{asset_id}", json={"criticality": "C"}), 409, "illegal-transition")
    listed = ok(cmms.http.get(f"{API}/assets", params={"site": "PLANT-1", "status": "retired", "limit": 500}))
    assert asset_id in [a["asset_id"] for a in listed["items"]]


# --- maintenance requests ------------------------------------------------------------------------
async def test_request_submission_links_and_filters(cmms: Api) -> None:
    asset = new_asset(cmms.http, site="PLANT-9")
    nc_id = unique("NC")
    request = ok(
        new_request(
            cmms.http,
            asset["asset_id"],
            nonconformance_id=nc_id,
            production_order="PRD-77",
            requested_by="P-7",
        ),
        201,
    )
    assert (request["status"], request["site"], request["allowed_actions"]) == (
        "submitted",
        "PLANT-9",
        ["accept", "reject", "cancel"],
    )
    [(kind, data)] = await events(cmms.database_url, request["request_id"])
    assert kind == "cmms.maintenance_request.submitted.v1"
    assert (data["asset_id"], data["nonconformance_id"], data["production_order"], data["priority"]) == (
        asset["asset_id"],
        nc_id,
        "PRD-77",
        "high",
    )
    for params in (
        {"nonconformance_id": nc_id},
        {"asset_id": asset["asset_id"]},
        {"site": "PLANT-9", "status": "submitted", "asset_id": asset["asset_id"]},
    ):
        found = ok(cmms.http.get(f"{API}/maintenance-requests", params=params))["items"]
        assert [r["request_id"] for r in found] == [request["request_id"]]
    assert (
        ok(cmms.http.get(f"{API}/maintenance-requests", params={"nonconformance_id": "NC-NONE"}))["items"]
        == []
    )

    problem(new_request(cmms.http, "AST-NOPE"), 422, "unknown-asset")
    problem(new_request(cmms.http, asset["asset_id"], site="PLANT-1"), 422, "site-mismatch")
    problem(new_request(cmms.http, asset["asset_id"], type="repair"), 400, "validation")
    rejected = cmms.http.post(f"{API}/maintenance-requests/{request['request_id']}/reject", json={})
    problem(rejected, 400, "validation")


async def test_work_order_from_request_drives_the_request(cmms: Api) -> None:
    request = ok(new_request(cmms.http, nonconformance_id="NC-5", production_order="PRD-5"), 201)
    request_id = request["request_id"]
    body = problem(
        cmms.http.post(f"{API}/work-orders", json={"request_id": request_id}), 409, "illegal-transition"
    )
    assert body["current_state"] == "submitted"
    ok(cmms.http.post(f"{API}/maintenance-requests/{request_id}/accept"))

    wo = ok(cmms.http.post(f"{API}/work-orders", json={"request_id": request_id, "assignee": "P-100"}), 201)
    assert (wo["asset_id"], wo["type"], wo["priority"], wo["description"]) == (
        request["asset_id"],
        "corrective",
        "high",
        request["description"],
    )
    assert (wo["nonconformance_id"], wo["production_order"], wo["cost_centre"], wo["site"]) == (
        "NC-5",
        "PRD-5",
        "CC-4711",
        "PLANT-1",
    )
    wo_id = wo["wo_id"]
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/release"))
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/start"))
    assert ok(cmms.http.get(f"{API}/maintenance-requests/{request_id}"))["status"] == "in_progress"
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/complete", json=COMPLETION))
    done = ok(cmms.http.get(f"{API}/maintenance-requests/{request_id}"))
    assert (done["status"], done["status_reason"]) == ("completed", f"work order {wo_id}")
    kinds = [k for k, _ in await events(cmms.database_url, request_id)]
    assert (
        kinds
        == ["cmms.maintenance_request.submitted.v1"] + ["cmms.maintenance_request.status_changed.v1"] * 3
    )
    listed = ok(cmms.http.get(f"{API}/work-orders", params={"request_id": request_id}))["items"]
    assert [w["wo_id"] for w in listed] == [wo_id]


async def test_a_request_is_completed_or_cancelled_by_hand_only_without_open_work(cmms: Api) -> None:
    """Its work would otherwise go on (started, costed) under a request that says it is over."""
    request_id = ok(new_request(cmms.http), 201)["request_id"]
    ok(cmms.http.post(f"{API}/maintenance-requests/{request_id}/accept"))
    wo_id = ok(cmms.http.post(f"{API}/work-orders", json={"request_id": request_id}), 201)["wo_id"]
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/release"))
    refused = problem(
        cmms.http.post(f"{API}/maintenance-requests/{request_id}/cancel", json={"reason": "duplicate"}),
        409,
        "work-orders-open",
    )
    assert refused["work_orders"] == [wo_id]
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/start"))
    problem(cmms.http.post(f"{API}/maintenance-requests/{request_id}/complete"), 409, "work-orders-open")
    assert ok(cmms.http.get(f"{API}/maintenance-requests/{request_id}"))["status"] == "in_progress"
    # Once its order is cancelled the request may be cancelled, and one without orders as before.
    other = ok(new_request(cmms.http), 201)["request_id"]
    ok(cmms.http.post(f"{API}/maintenance-requests/{other}/accept"))
    spare = ok(cmms.http.post(f"{API}/work-orders", json={"request_id": other}), 201)["wo_id"]
    ok(cmms.http.post(f"{API}/work-orders/{spare}/cancel", json={}))
    assert ok(cmms.http.post(f"{API}/maintenance-requests/{other}/cancel", json={}))["status"] == "cancelled"


async def test_work_order_lines_completion_event_and_closing(cmms: Api) -> None:
    wo = ok(new_work_order(cmms.http, order_ref="ORD-900", production_order="PRD-9"), 201)
    wo_id = wo["wo_id"]
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/release"))
    ok(cmms.http.post(f"{API}/work-orders/{wo_id}/start"))
    part = {
        "item_id": "SP-SEAL-80",
        "quantity": 2,
        "warehouse": "WH-MRO",
        "lot_id": "LOT-S1",
        "location": "A-01",
    }
    # A quantity the stock records cannot keep is refused, as for planned parts.
    tiny = {**part, "quantity": 0.0004}
    problem(cmms.http.post(f"{API}/work-orders/{wo_id}/parts", json=tiny), 422, "invalid-quantity")
    kept = ok(cmms.http.post(f"{API}/work-orders/{wo_id}/parts", json={**part, "quantity": 2.0004}))
    assert [line["quantity"] for line in kept["parts"]] == [2]
    labor = {
        "person_id": "P-100",
        "hours": 2.5,
        "rate": "62.50",
        "currency": "EUR",
        "work_date": "2030-03-04",
    }
    current = ok(cmms.http.post(f"{API}/work-orders/{wo_id}/labor", json=labor))
    assert current["labor"][0]["amount"] == "156.25"
    assert current["parts"][0] == {**part, "line_no": 1, "uom": "EA", "quantity": 2.0}

    # A corrective order needs its codes; refused completion changes nothing.
    problem(cmms.http.post(f"{API}/work-orders/{wo_id}/complete", json={}), 422, "codes-required")
    assert ok(cmms.http.get(f"{API}/work-orders/{wo_id}"))["version"] == current["version"]

    completed = ok(cmms.http.post(f"{API}/work-orders/{wo_id}/complete", json=COMPLETION))
    assert completed["status"] == "technically_complete"
    assert completed["actual_start"] <= completed["actual_end"]
    staged = await events(cmms.database_url, wo_id)
    kind, data = staged[-1]
    assert kind == "cmms.work_order.completed.v1"
    assert data["parts"] == [
        {
            "line_no": 1,
            "item_id": "SP-SEAL-80",
            "quantity": 2.0,
            "uom": "EA",
            "warehouse": "WH-MRO",
            "lot_id": "LOT-S1",
            "location": "A-01",
        }
    ]
    assert data["labor"] == [
        {
            "line_no": 1,
            "person_id": "P-100",
            "hours": 2.5,
            "rate": "62.5",
            "currency": "EUR",
            "amount": "156.25",
            "work_date": "2030-03-04",
        }
    ]
    assert (data["cause_code"], data["correction_code"], data["downtime_minutes"]) == (
        "SEAL-WEAR",
        "REPLACE",
        95,
    )
    assert (data["cost_centre"], data["order_ref"], data["production_order"]) == (
        "CC-4711",
        "ORD-900",
        "PRD-9",
    )

    body = problem(cmms.http.post(f"{API}/work-orders/{wo_id}/parts", json=part), 409, "illegal-transition")
    assert body["current_state"] == "technically_complete"
    body = problem(cmms.http.post(f"{API}/work-orders/{wo_id}/close"), 409, "costs-not-posted")
    assert body["current_state"] == "technically_complete"
    posted = ok(cmms.http.post(f"{API}/work-orders/{wo_id}/costs-posted", json={"posting_ids": ["COST-7"]}))
    assert (posted["costs_posted"], posted["cost_posting_ids"]) == (True, ["COST-7"])
    problem(cmms.http.post(f"{API}/work-orders/{wo_id}/costs-posted", json={}), 409, "costs-already-posted")
    assert ok(cmms.http.post(f"{API}/work-orders/{wo_id}/close"))["status"] == "closed"


async def test_costs_can_only_be_posted_when_technically_complete(cmms: Api) -> None:
    wo = ok(new_work_order(cmms.http), 201)
    body = problem(
        cmms.http.post(f"{API}/work-orders/{wo['wo_id']}/costs-posted", json={}), 409, "illegal-transition"
    )
    assert body["current_state"] == "created"


async def test_work_order_lists_for_a_technicians_delta_sync(cmms: Api) -> None:
    person = unique("P")
    asset = new_asset(cmms.http, site="PLANT-3")
    first = ok(new_work_order(cmms.http, assignee=person, asset_id=asset["asset_id"]), 201)
    second = ok(new_work_order(cmms.http, assignee=person), 201)
    ok(new_work_order(cmms.http, assignee=unique("P")), 201)
    mine = ok(cmms.http.get(f"{API}/work-orders", params={"assignee": person}))["items"]
    assert [w["wo_id"] for w in mine] == [first["wo_id"], second["wo_id"]]
    by_site = ok(cmms.http.get(f"{API}/work-orders", params={"site": "PLANT-3", "status": "created"}))[
        "items"
    ]
    assert [w["wo_id"] for w in by_site] == [first["wo_id"]]
    by_asset = ok(cmms.http.get(f"{API}/work-orders", params={"asset_id": asset["asset_id"]}))["items"]
    assert [w["wo_id"] for w in by_asset] == [first["wo_id"]]

    page = ok(cmms.http.get(f"{API}/work-orders", params={"assignee": person, "limit": 1}))
    assert [w["wo_id"] for w in page["items"]] == [first["wo_id"]]
    rest = ok(cmms.http.get(f"{API}/work-orders", params={"assignee": person, "cursor": page["next_cursor"]}))
    assert ([w["wo_id"] for w in rest["items"]], rest["next_cursor"]) == ([second["wo_id"]], None)

    synced_at = mine[-1]["updated_at"]
    changed = cmms.http.patch(
        f"{API}/work-orders/{first['wo_id']}",
        json={"planned_start": "2030-05-01T06:00:00+02:00", "planned_end": "2030-05-01T14:00:00+02:00"},
    )
    assert ok(changed)["planned_start"] == "2030-05-01T04:00:00Z"
    delta = ok(cmms.http.get(f"{API}/work-orders", params={"assignee": person, "updated_since": synced_at}))
    assert [w["wo_id"] for w in delta["items"]] == [first["wo_id"]]
    problem(
        cmms.http.patch(
            f"{API}/work-orders/{first['wo_id']}",
            json={"planned_start": "2030-05-02T06:00:00Z", "planned_end": "2030-05-01T06:00:00Z"},
        ),
        422,
        "invalid-window",
    )


async def test_standalone_work_order_needs_an_asset_and_a_description(cmms: Api) -> None:
    problem(cmms.http.post(f"{API}/work-orders", json={"description": "x"}), 422, "asset-required")
    asset = new_asset(cmms.http)
    problem(
        cmms.http.post(f"{API}/work-orders", json={"asset_id": asset["asset_id"]}),
        422,
        "description-required",
    )
    problem(
        cmms.http.post(f"{API}/work-orders", json={"request_id": "MR-NOPE"}),
        422,
        "unknown-maintenance-request",
    )
    preventive = ok(new_work_order(cmms.http, type="preventive"), 201)
    for action in ("release", "start"):
        ok(cmms.http.post(f"{API}/work-orders/{preventive['wo_id']}/{action}"))
    # Preventive work needs no failure codes.
    assert ok(cmms.http.post(f"{API}/work-orders/{preventive['wo_id']}/complete", json={}))["status"] == (
        "technically_complete"
    )


async def test_idempotent_retry_replays_the_first_answer(cmms: Api) -> None:
    wo = ok(new_work_order(cmms.http), 201)
    path = f"{API}/work-orders/{wo['wo_id']}/labor"
    labor = {"person_id": "P-1", "hours": 1, "rate": "50"}
    key = {"Idempotency-Key": unique("key")}
    first = ok(cmms.http.post(path, json=labor, headers=key))
    again = cmms.http.post(path, json=labor, headers=key)
    assert (again.json(), again.headers.get("idempotent-replayed")) == (first, "true")
    assert len(ok(cmms.http.get(f"{API}/work-orders/{wo['wo_id']}"))["labor"]) == 1
    problem(cmms.http.post(path, json={**labor, "hours": 2}, headers=key), 422, "idempotency-key-reused")
    stored = await rows(
        cmms.database_url, "SELECT count(*) FROM work_order_labor WHERE wo_id = :w", w=wo["wo_id"]
    )
    assert stored[0][0] == 1
