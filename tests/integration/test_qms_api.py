"""QMS system API in process (its whole ASGI stack, no socket), on real SQLite and PostgreSQL.

Every edge of every state machine is driven through the API, and every refused action is
tried in every state: a 409 problem naming the current state that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from system_apis.qms import domain
from tests.support.db import count, events
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import Api, Body, api_in_process, client, ok, problem, unique

SCOPES = ["qms:read", "qms:write"]
API = "/qms/v1"


@pytest.fixture(scope="module", params=BACKENDS)
def qms(request: pytest.FixtureRequest, in_process: Serve, database_url: DatabaseUrl) -> Iterator[Api]:
    url = database_url(request.param, f"qms_api_{request.param}")
    with api_in_process(in_process, "qms", url, scopes=SCOPES) as api:
        yield api


# --- records to walk the state machines with ------------------------------------------------------
def lot_body(**overrides: Any) -> Body:
    return {
        "origin": "goods_receipt",
        "source_ref": unique("GR"),
        "item_id": "RM-STEEL-BAR",
        "lot_id": unique("LOT"),
        "supplier_id": "SUP-ACME",
        "sample_size": 5,
        "due_date": "2030-01-31",
        "characteristics": [
            {
                "code": "DIA",
                "kind": "numeric",
                "description": "Outer diameter",
                "min_value": 9.95,
                "max_value": 10.05,
                "unit": "mm",
            },
            {"code": "VIS", "kind": "attribute", "description": "Visual: no scratches"},
        ],
        **overrides,
    }


PASSING = {
    "results": [{"characteristic": "DIA", "value": 10.01}, {"characteristic": "VIS", "conforming": True}]
}


@dataclass(frozen=True)
class Walk:
    """How to create a record, make each state-machine action over HTTP, and reach each state."""

    resource: str
    key: str
    create: Callable[[httpx.Client], httpx.Response]
    actions: dict[str, tuple[str, Body]]
    paths: dict[str, list[str]]
    machine: Any = field(repr=False)

    def act(self, http: httpx.Client, record_id: str, action: str, **headers: str) -> httpx.Response:
        suffix, body = self.actions[action]
        return http.post(f"{API}/{self.resource}/{record_id}/{suffix}", json=body, headers=headers)

    def record_in(self, http: httpx.Client, state: str) -> Body:
        record = ok(self.create(http), 201)
        for action in self.paths[state]:
            record = ok(self.act(http, record[self.key], action))
        assert record["status"] == state
        return record


def _create_nc(http: httpx.Client) -> httpx.Response:
    return http.post(f"{API}/nonconformances", json={"title": "Burr on edge", "severity": "minor"})


def _create_case(http: httpx.Client) -> httpx.Response:
    return http.post(f"{API}/supplier-cases", json={"supplier_id": "SUP-ACME", "title": "Burrs on bar stock"})


def _create_capa(http: httpx.Client) -> httpx.Response:
    return http.post(
        f"{API}/capas",
        json={
            "kind": "corrective",
            "title": "Deburr station",
            "owner": "Q. Engineer",
            "actions": [{"description": "Install deburr station", "done": True}],
        },
    )


RESPONSE = {"containment": "Sorted stock", "root_cause": "Worn die", "corrective_action": "Die replaced"}
WALKS = {
    "inspection lot": Walk(
        "inspection-lots",
        "inspection_lot_id",
        lambda http: http.post(f"{API}/inspection-lots", json=lot_body()),
        {
            "start": ("start", {}),
            "record_results": ("results", PASSING),
            "decide": ("usage-decision", {"code": "A1", "disposition": "release", "decided_by": "QA"}),
            "post_stock": ("stock-posted", {"txn_ids": ["TXN-1"]}),
            "close": ("close", {}),
            "cancel": ("cancel", {"reason": "Receipt reversed"}),
        },
        {
            "created": [],
            "in_inspection": ["start"],
            "results_recorded": ["start", "record_results"],
            "decided": ["start", "record_results", "decide"],
            "stock_posted": ["start", "record_results", "decide", "post_stock"],
            "closed": ["start", "record_results", "decide", "post_stock", "close"],
            "cancelled": ["cancel"],
        },
        domain.INSPECTION_LOT,
    ),
    "nonconformance": Walk(
        "nonconformances",
        "nc_id",
        _create_nc,
        {
            "start_analysis": ("start-analysis", {}),
            "plan_action": ("plan-action", {"action_plan": "Replace the worn fixture"}),
            "start": ("start", {}),
            "close": ("close", {"effectiveness_note": "No burrs in 3 lots"}),
            "cancel": ("cancel", {"reason": "Duplicate report"}),
            "reopen": ("reopen", {"reason": "Burrs again"}),
        },
        {
            "open": [],
            "under_analysis": ["start_analysis"],
            "action_planned": ["start_analysis", "plan_action"],
            "in_progress": ["start_analysis", "plan_action", "start"],
            "closed": ["start_analysis", "plan_action", "start", "close"],
            "cancelled": ["cancel"],
        },
        domain.NONCONFORMANCE,
    ),
    "supplier case": Walk(
        "supplier-cases",
        "case_id",
        _create_case,
        {
            "issue": ("issue", {}),
            "respond": ("response", RESPONSE),
            "accept": ("accept", {}),
            "reject": ("reject", {"reason": "Root cause not shown"}),
            "close": ("close", {}),
            "cancel": ("cancel", {"reason": "Raised in error"}),
        },
        {
            "open": [],
            "issued": ["issue"],
            "response_received": ["issue", "respond"],
            "accepted": ["issue", "respond", "accept"],
            "rejected": ["issue", "respond", "reject"],
            "closed": ["issue", "respond", "accept", "close"],
            "cancelled": ["cancel"],
        },
        domain.SUPPLIER_CASE,
    ),
    "capa": Walk(
        "capas",
        "capa_id",
        _create_capa,
        {
            "open": ("open", {}),
            "implement": ("implement", {}),
            "verify": ("verify", {"note": "No repeats in 3 months"}),
            "reopen": ("reopen", {"note": "Repeats"}),
            "close": ("close", {}),
            "cancel": ("cancel", {"reason": "Superseded"}),
        },
        {
            "draft": [],
            "open": ["open"],
            "implemented": ["open", "implement"],
            "verified": ["open", "implement", "verify"],
            "closed": ["open", "implement", "verify", "close"],
            "cancelled": ["cancel"],
        },
        domain.CAPA,
    ),
}
EDGES = [(name, str(a), b, str(c)) for name, walk in WALKS.items() for a, b, c in walk.machine.edges()]
STATES = [(name, str(state)) for name, walk in WALKS.items() for state in walk.machine.states]


@pytest.mark.parametrize(("name", "source", "action", "target"), EDGES, ids=lambda v: str(v))
async def test_every_transition_over_http(qms: Api, name: str, source: str, action: str, target: str) -> None:
    walk = WALKS[name]
    record = walk.record_in(qms.http, source)
    moved = walk.act(qms.http, record[walk.key], action, **{"If-Match": f'"{record["version"]}"'})
    body = ok(moved)
    assert body["status"] == target
    assert moved.headers["etag"] == f'"{body["version"]}"'
    assert body["version"] > record["version"]
    assert action in record["allowed_actions"]
    types = [t for t, _ in await events(qms.database_url, record[walk.key])]
    assert types[-1].endswith(("status_changed.v1", "results_recorded.v1", "usage_decision.made.v1"))


@pytest.mark.parametrize(("name", "state"), STATES, ids=lambda v: str(v))
async def test_every_illegal_transition_over_http_is_409_naming_the_state(
    qms: Api, name: str, state: str
) -> None:
    walk = WALKS[name]
    record = walk.record_in(qms.http, state)
    record_id = record[walk.key]
    refused = [action for s, action in walk.machine.refusals() if s == state]
    staged = len(await events(qms.database_url, record_id))
    for action in refused:
        body = problem(walk.act(qms.http, record_id, action), 409, "illegal-transition")
        assert body["current_state"] == state
        assert f"is {state};" in body["detail"]
    after = ok(qms.http.get(f"{API}/{walk.resource}/{record_id}"))
    assert (after["status"], after["version"]) == (state, record["version"])
    assert sorted(after["allowed_actions"]) == sorted(a for s, a, _ in walk.machine.edges() if s == state)
    assert len(await events(qms.database_url, record_id)) == staged


# --- inspection lots ------------------------------------------------------------------------------
async def test_inspection_with_a_failed_characteristic_blocks_and_keeps_decision_history(qms: Api) -> None:
    body = lot_body()
    lot = ok(qms.http.post(f"{API}/inspection-lots", json=body), 201)
    lot_id = lot["inspection_lot_id"]
    assert (lot["status"], lot["result"], lot["allowed_actions"]) == (
        "created",
        "pending",
        ["start", "cancel"],
    )
    ok(qms.http.post(f"{API}/inspection-lots/{lot_id}/start", json={"by": "inspector"}))

    partial = ok(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/results",
            json={
                "results": [{"characteristic": "DIA", "value": 10.07, "unit": "mm", "uncertainty": 0.002}],
                "recorded_by": "inspector",
            },
        )
    )
    assert (partial["status"], partial["result"], partial["failed_characteristics"]) == (
        "in_inspection",
        "fail",
        ["DIA"],
    )
    dia = partial["characteristics"][0]["result"]
    assert (dia["value"], dia["unit"], dia["uncertainty"], dia["evaluation"]) == (10.07, "mm", 0.002, "fail")

    recorded = ok(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/results",
            json={"results": [{"characteristic": "VIS", "conforming": True}]},
        )
    )
    assert (recorded["status"], recorded["result"]) == ("results_recorded", "fail")
    problem(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/usage-decision",
            json={"code": "A1", "disposition": "release", "decided_by": "QA"},
        ),
        409,
        "decision-contradicts-result",
    )

    blocked = ok(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/usage-decision",
            json={
                "code": "R1",
                "disposition": "block",
                "decided_by": "QA lead",
                "note": "Diameter over limit",
            },
        )
    )
    assert blocked["status"] == "decided"
    assert blocked["usage_decision"]["disposition"] == "block"
    changed = ok(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/usage-decision",
            json={"code": "R3", "disposition": "return", "decided_by": "QA manager"},
        )
    )
    assert [(d["revision"], d["code"], d["disposition"], d["lot_result"]) for d in changed["decisions"]] == [
        (1, "R1", "block", "fail"),
        (2, "R3", "return", "fail"),
    ]
    assert changed["usage_decision"]["revision"] == 2

    posted = ok(
        qms.http.post(
            f"{API}/inspection-lots/{lot_id}/stock-posted",
            json={"txn_ids": ["TXN-9", "TXN-9"], "posted_by": "quality-flow"},
        )
    )
    assert (posted["status"], posted["stock_txn_ids"]) == ("stock_posted", ["TXN-9"])
    assert posted["stock_posted_at"] is not None
    closed = ok(qms.http.post(f"{API}/inspection-lots/{lot_id}/close", json={}))
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    assert ok(qms.http.get(f"{API}/inspection-lots/{lot_id}")) == closed

    staged = await events(qms.database_url, lot_id)
    assert [t for t, _ in staged] == [
        "qms.inspection_lot.created.v1",
        "qms.inspection_lot.status_changed.v1",
        "qms.inspection.results_recorded.v1",
        "qms.inspection.results_recorded.v1",
        "qms.usage_decision.made.v1",
        "qms.usage_decision.made.v1",
        "qms.inspection_lot.status_changed.v1",
        "qms.inspection_lot.status_changed.v1",
    ]
    created = staged[0][1]
    assert (created["lot_id"], created["source_ref"], created["characteristics"]) == (
        body["lot_id"],
        body["source_ref"],
        ["DIA", "VIS"],
    )
    results = staged[3][1]
    assert (results["complete"], results["result"], results["failed_characteristics"]) == (
        True,
        "fail",
        ["DIA"],
    )
    assert results["results"][0] == {
        "characteristic": "DIA",
        "evaluation": "fail",
        "value": 10.07,
        "unit": "mm",
        "uncertainty": 0.002,
        "conforming": None,
    }
    first, second = staged[4][1], staged[5][1]
    stock = staged[6][1]
    assert (stock["action"], stock["to_status"], stock["stock_txn_ids"]) == (
        "post_stock",
        "stock_posted",
        ["TXN-9"],
    )
    assert first["previous_disposition"] is None
    assert second["previous_disposition"] == "block"
    assert {
        k: second[k]
        for k in (
            "inspection_lot_id",
            "lot_id",
            "item_id",
            "supplier_id",
            "disposition",
            "code",
            "failed_characteristics",
            "result",
            "revision",
            "source_ref",
        )
    } == {
        "inspection_lot_id": lot_id,
        "lot_id": body["lot_id"],
        "item_id": "RM-STEEL-BAR",
        "supplier_id": "SUP-ACME",
        "disposition": "return",
        "code": "R3",
        "failed_characteristics": ["DIA"],
        "result": "fail",
        "revision": 2,
        "source_ref": body["source_ref"],
    }


@pytest.mark.parametrize(
    ("results", "slug"),
    [
        ([{"characteristic": "NOPE", "value": 1}], "unknown-characteristic"),
        ([{"characteristic": "DIA", "value": 10.0, "unit": "in"}], "unit-mismatch"),
        ([{"characteristic": "DIA", "conforming": True}], "invalid-result"),
        ([{"characteristic": "VIS", "value": 1.0}], "invalid-result"),
        (
            [{"characteristic": "DIA", "value": 10.0}, {"characteristic": "DIA", "value": 10.0}],
            "duplicate-result",
        ),
    ],
)
async def test_wrong_results_are_422_and_record_nothing(qms: Api, results: list[Body], slug: str) -> None:
    lot = WALKS["inspection lot"].record_in(qms.http, "in_inspection")
    lot_id = lot["inspection_lot_id"]
    staged = len(await events(qms.database_url, lot_id))
    problem(qms.http.post(f"{API}/inspection-lots/{lot_id}/results", json={"results": results}), 422, slug)
    assert ok(qms.http.get(f"{API}/inspection-lots/{lot_id}")) == lot
    assert len(await events(qms.database_url, lot_id)) == staged


@pytest.mark.parametrize(
    "characteristic",
    [
        {"code": "A", "kind": "numeric", "min_value": 1, "max_value": 2},
        {"code": "A", "kind": "numeric", "unit": "mm"},
        {"code": "A", "kind": "numeric", "min_value": 3, "max_value": 2, "unit": "mm"},
        {"code": "A", "kind": "attribute", "unit": "mm"},
    ],
)
async def test_inconsistent_characteristics_are_422_and_create_nothing(
    qms: Api, characteristic: Body
) -> None:
    before = {t: await count(qms.database_url, t) for t in ("inspection_lots", "kit_outbox")}
    problem(
        qms.http.post(f"{API}/inspection-lots", json=lot_body(characteristics=[characteristic])),
        422,
        "invalid-characteristic",
    )
    assert {t: await count(qms.database_url, t) for t in before} == before


def test_one_open_inspection_lot_per_source_record(qms: Api) -> None:
    body = lot_body(origin="production", source_ref=unique("MO"))
    first = ok(qms.http.post(f"{API}/inspection-lots", json=body), 201)
    twin = problem(qms.http.post(f"{API}/inspection-lots", json=body), 409, "inspection-lot-exists")
    assert twin["inspection_lot_id"] == first["inspection_lot_id"]
    ok(
        qms.http.post(
            f"{API}/inspection-lots/{first['inspection_lot_id']}/cancel", json={"reason": "Wrong lot"}
        )
    )
    again = ok(qms.http.post(f"{API}/inspection-lots", json=body), 201)
    found = ok(qms.http.get(f"{API}/inspection-lots", params={"source_ref": body["source_ref"]}))["items"]
    assert {(i["inspection_lot_id"], i["status"]) for i in found} == {
        (first["inspection_lot_id"], "cancelled"),
        (again["inspection_lot_id"], "created"),
    }


async def test_same_idempotency_key_creates_one_lot_and_another_body_is_422(qms: Api) -> None:
    key = unique("key")
    body = lot_body()
    before = await count(qms.database_url, "inspection_lots")
    first = qms.http.post(f"{API}/inspection-lots", json=body, headers={"Idempotency-Key": key})
    again = qms.http.post(f"{API}/inspection-lots", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(qms.database_url, "inspection_lots") == before + 1
    problem(
        qms.http.post(f"{API}/inspection-lots", json=lot_body(), headers={"Idempotency-Key": key}),
        422,
        "idempotency-key-reused",
    )
    assert await count(qms.database_url, "inspection_lots") == before + 1


def test_a_stale_if_match_is_412_and_changes_nothing(qms: Api) -> None:
    lot = WALKS["inspection lot"].record_in(qms.http, "created")
    lot_id = lot["inspection_lot_id"]
    stale = f'"{lot["version"]}"'
    ok(qms.http.post(f"{API}/inspection-lots/{lot_id}/start", json={}, headers={"If-Match": stale}))
    refused = qms.http.post(
        f"{API}/inspection-lots/{lot_id}/cancel", json={"reason": "x"}, headers={"If-Match": stale}
    )
    problem(refused, 412, "stale-version")
    assert ok(qms.http.get(f"{API}/inspection-lots/{lot_id}"))["status"] == "in_inspection"


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("inspection-lots", "inspection-lot"),
        ("nonconformances", "nonconformance"),
        ("supplier-cases", "supplier-case"),
        ("capas", "capa"),
        ("defect-codes", "defect-code"),
    ],
)
def test_unknown_records_are_404_problems(qms: Api, path: str, slug: str) -> None:
    problem(qms.http.get(f"{API}/{path}/NOPE-1"), 404, f"{slug}-not-found")


def test_actions_on_unknown_records_are_404(qms: Api) -> None:
    problem(qms.http.post(f"{API}/inspection-lots/IL-NOPE/start", json={}), 404, "inspection-lot-not-found")
    problem(qms.http.post(f"{API}/capas/CAPA-NOPE/open", json={}), 404, "capa-not-found")


# --- defect codes and nonconformances -------------------------------------------------------------
def defect_code(http: httpx.Client) -> str:
    code = unique("D-BURR")
    created = ok(
        http.post(
            f"{API}/defect-codes",
            json={
                "code": code,
                "description": "Burr on machined edge",
                "category": "machining",
                "default_severity": "minor",
            },
        ),
        201,
    )
    assert created["code"] == code
    return code


def test_the_defect_code_catalogue(qms: Api) -> None:
    code = defect_code(qms.http)
    problem(
        qms.http.post(f"{API}/defect-codes", json={"code": code, "description": "again"}),
        409,
        "defect-code-exists",
    )
    assert ok(qms.http.get(f"{API}/defect-codes/{code}"))["default_severity"] == "minor"
    listed = ok(qms.http.get(f"{API}/defect-codes", params={"category": "machining", "limit": 500}))["items"]
    assert code in [c["code"] for c in listed]


async def test_nonconformance_links_filters_and_events(qms: Api) -> None:
    code = defect_code(qms.http)
    lot = WALKS["inspection lot"].record_in(qms.http, "created")
    links = {
        "equipment_id": unique("EQ"),
        "lot_id": unique("LOT"),
        "supplier_id": unique("SUP"),
        "item_id": "RM-STEEL-BAR",
        "production_order_id": unique("MO"),
        "inspection_lot_id": lot["inspection_lot_id"],
    }
    nc = ok(
        qms.http.post(
            f"{API}/nonconformances",
            json={
                "title": "Burrs after milling",
                "severity": "major",
                "defect_codes": [code, code],
                "root_cause_codes": ["RC-TOOL-WEAR"],
                "quantity_affected": 12,
                "unit": "EA",
                **links,
            },
        ),
        201,
    )
    assert (nc["status"], nc["defect_codes"], nc["reopen_count"]) == ("open", [code], 0)
    for name, value in [*links.items(), ("defect_code", code)]:
        found = ok(qms.http.get(f"{API}/nonconformances", params={name: value}))["items"]
        assert [i["nc_id"] for i in found] == [nc["nc_id"]], name
    assert (
        ok(
            qms.http.get(
                f"{API}/nonconformances", params={"equipment_id": links["equipment_id"], "status": "closed"}
            )
        )["items"]
        == []
    )

    updated = ok(
        qms.http.patch(
            f"{API}/nonconformances/{nc['nc_id']}",
            json={"disposition": "rework"},
            headers={"If-Match": f'"{nc["version"]}"'},
        )
    )
    assert updated["disposition"] == "rework"
    WALKS["nonconformance"].act(qms.http, nc["nc_id"], "start_analysis")
    staged = await events(qms.database_url, nc["nc_id"])
    assert [t for t, _ in staged] == [
        "qms.nonconformance.opened.v1",
        "qms.nonconformance.updated.v1",
        "qms.nonconformance.status_changed.v1",
    ]
    opened, changed, moved = (data for _, data in staged)
    assert opened["links"] == links
    assert opened["severity"] == "major"
    assert changed["changed"] == ["disposition"]
    assert changed["disposition"] == "rework"
    assert (moved["from_status"], moved["to_status"], moved["disposition"]) == (
        "open",
        "under_analysis",
        "rework",
    )
    assert moved["links"]["equipment_id"] == links["equipment_id"]


@pytest.mark.parametrize(
    ("extra", "slug"),
    [
        ({"defect_codes": ["D-NOT-IN-CATALOGUE"]}, "unknown-defect-code"),
        ({"inspection_lot_id": "IL-NOPE"}, "unknown-inspection-lot"),
    ],
)
async def test_a_nonconformance_naming_unknown_records_is_422(qms: Api, extra: Body, slug: str) -> None:
    before = {t: await count(qms.database_url, t) for t in ("nonconformances", "kit_outbox")}
    problem(
        qms.http.post(f"{API}/nonconformances", json={"title": "x", "severity": "minor", **extra}), 422, slug
    )
    assert {t: await count(qms.database_url, t) for t in before} == before


def test_nonconformance_guards_and_reopen(qms: Api) -> None:
    walk = WALKS["nonconformance"]
    nc = walk.record_in(qms.http, "under_analysis")
    nc_id = nc["nc_id"]
    refused = problem(
        qms.http.post(f"{API}/nonconformances/{nc_id}/plan-action", json={}), 409, "action-plan-required"
    )
    assert refused["current_state"] == "under_analysis"
    ok(qms.http.patch(f"{API}/nonconformances/{nc_id}", json={"action_plan": "Regrind the cutter"}))
    assert (
        ok(qms.http.post(f"{API}/nonconformances/{nc_id}/plan-action", json={}))["status"] == "action_planned"
    )
    ok(qms.http.post(f"{API}/nonconformances/{nc_id}/start", json={}))
    refused = problem(
        qms.http.post(f"{API}/nonconformances/{nc_id}/close", json={}), 409, "effectiveness-note-required"
    )
    assert refused["current_state"] == "in_progress"
    closed = ok(
        qms.http.post(f"{API}/nonconformances/{nc_id}/close", json={"effectiveness_note": "Clean 3 lots"})
    )
    assert closed["status"] == "closed"
    assert closed["closed_at"]
    problem(
        qms.http.patch(f"{API}/nonconformances/{nc_id}", json={"severity": "critical"}),
        409,
        "illegal-transition",
    )

    reopened = ok(qms.http.post(f"{API}/nonconformances/{nc_id}/reopen", json={"reason": "Burrs again"}))
    assert (reopened["status"], reopened["reopen_count"], reopened["closed_at"]) == ("in_progress", 1, None)
    assert reopened["effectiveness_note"] is None  # the old evaluation proved wrong
    problem(
        qms.http.post(f"{API}/nonconformances/{nc_id}/close", json={}), 409, "effectiveness-note-required"
    )


# --- supplier cases -------------------------------------------------------------------------------
async def test_supplier_case_rejected_then_reissued_keeps_every_response(qms: Api) -> None:
    supplier = unique("SUP")
    nc = ok(
        qms.http.post(
            f"{API}/nonconformances",
            json={"title": "Cracks", "severity": "critical", "supplier_id": supplier},
        ),
        201,
    )
    case = ok(
        qms.http.post(
            f"{API}/supplier-cases",
            json={
                "supplier_id": supplier,
                "title": "Cracked castings",
                "nc_ids": [nc["nc_id"]],
                "lot_ids": ["LOT-7"],
                "due_date": "2030-02-15",
            },
        ),
        201,
    )
    case_id = case["case_id"]
    for suffix, body in [
        ("issue", {}),
        ("response", RESPONSE),
        ("reject", {"reason": "No evidence", "by": "SQE"}),
        ("issue", {}),
        ("response", {**RESPONSE, "root_cause": "Pour temperature"}),
        ("accept", {"reason": "Evidence attached"}),
        ("close", {}),
    ]:
        case = ok(qms.http.post(f"{API}/supplier-cases/{case_id}/{suffix}", json=body))
    assert case["status"] == "closed"
    assert [(r["number"], r["root_cause"], r["verdict"], r["verdict_reason"]) for r in case["responses"]] == [
        (1, "Worn die", "rejected", "No evidence"),
        (2, "Pour temperature", "accepted", "Evidence attached"),
    ]

    for params in (
        {"supplier_id": supplier},
        {"supplier_id": supplier, "status": "closed"},
        {"nc_id": nc["nc_id"]},
    ):
        assert [c["case_id"] for c in ok(qms.http.get(f"{API}/supplier-cases", params=params))["items"]] == [
            case_id
        ]
    assert (
        ok(qms.http.get(f"{API}/supplier-cases", params={"supplier_id": supplier, "status": "open"}))["items"]
        == []
    )
    moves = [
        d for t, d in await events(qms.database_url, case_id) if t == "qms.supplier_case.status_changed.v1"
    ]
    assert [(m["from_status"], m["to_status"]) for m in moves][:3] == [
        ("open", "issued"),
        ("issued", "response_received"),
        ("response_received", "rejected"),
    ]
    assert moves[2]["reason"] == "No evidence"
    assert moves[2]["supplier_id"] == supplier


def test_a_case_cannot_link_another_suppliers_nonconformance(qms: Api) -> None:
    nc = ok(
        qms.http.post(
            f"{API}/nonconformances", json={"title": "x", "severity": "minor", "supplier_id": unique("SUP")}
        ),
        201,
    )
    problem(
        qms.http.post(
            f"{API}/supplier-cases",
            json={"supplier_id": unique("SUP"), "title": "t", "nc_ids": [nc["nc_id"]]},
        ),
        422,
        "nonconformance-of-other-supplier",
    )
    problem(
        qms.http.post(
            f"{API}/supplier-cases", json={"supplier_id": "S", "title": "t", "nc_ids": ["NC-NOPE"]}
        ),
        422,
        "unknown-nonconformance",
    )


# --- CAPA --------------------------------------------------------------------------------
async def test_capa_actions_codes_and_effectiveness_checks(qms: Api) -> None:
    nc = ok(
        qms.http.post(f"{API}/nonconformances", json={"title": "Spindle vibration", "severity": "major"}), 201
    )
    capa = ok(
        qms.http.post(
            f"{API}/capas",
            json={
                "kind": "corrective",
                "title": "Balance spindle",
                "owner": "Maintenance",
                "nc_ids": [nc["nc_id"]],
                "due_date": "2030-03-01",
            },
        ),
        201,
    )
    capa_id = capa["capa_id"]
    ok(qms.http.post(f"{API}/capas/{capa_id}/open", json={}))
    problem(qms.http.post(f"{API}/capas/{capa_id}/implement", json={}), 409, "actions-required")
    ok(
        qms.http.patch(
            f"{API}/capas/{capa_id}",
            json={
                "actions": [
                    {"description": "Balance spindle", "done": True},
                    {"description": "Train operators"},
                ]
            },
        )
    )
    refused = problem(qms.http.post(f"{API}/capas/{capa_id}/implement", json={}), 409, "actions-open")
    assert refused["current_state"] == "open"
    updated = ok(
        qms.http.patch(
            f"{API}/capas/{capa_id}",
            json={
                "actions": [
                    {"description": "Balance spindle", "done": True},
                    {"description": "Train operators", "done": True},
                ],
                "cause_codes": ["CAUSE-IMBALANCE"],
                "correction_codes": ["CORR-BALANCE"],
            },
        )
    )
    assert [a["number"] for a in updated["actions"]] == [1, 2]
    ok(qms.http.post(f"{API}/capas/{capa_id}/implement", json={}))
    ok(
        qms.http.post(
            f"{API}/capas/{capa_id}/reopen", json={"note": "Vibration back after a week", "by": "QE"}
        )
    )
    ok(qms.http.post(f"{API}/capas/{capa_id}/implement", json={}))
    ok(qms.http.post(f"{API}/capas/{capa_id}/verify", json={"note": "Stable for 3 months"}))
    closed = ok(qms.http.post(f"{API}/capas/{capa_id}/close", json={}))
    assert closed["status"] == "closed"
    assert [(c["effective"], c["note"]) for c in closed["effectiveness_checks"]] == [
        (False, "Vibration back after a week"),
        (True, "Stable for 3 months"),
    ]
    assert (closed["cause_codes"], closed["correction_codes"]) == (["CAUSE-IMBALANCE"], ["CORR-BALANCE"])
    problem(qms.http.patch(f"{API}/capas/{capa_id}", json={"owner": "x"}), 409, "illegal-transition")
    assert [
        c["capa_id"] for c in ok(qms.http.get(f"{API}/capas", params={"nc_id": nc["nc_id"]}))["items"]
    ] == [capa_id]

    updates = [d for t, d in await events(qms.database_url, capa_id) if t == "qms.capa.updated.v1"]
    assert updates[-1]["changed"] == ["actions", "cause_codes", "correction_codes"]
    assert updates[-1]["cause_codes"] == ["CAUSE-IMBALANCE"]


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("inspection-lots", lot_body(colour="red")),
        ("inspection-lots", lot_body(characteristics=[])),
        ("inspection-lots", lot_body(sample_size=0)),
        ("inspection-lots", lot_body(sample_size="5")),  # no lax coercion: the schema says integer
        ("inspection-lots", lot_body(origin="teleport")),
        (
            "inspection-lots",
            lot_body(characteristics=[{"code": "A", "kind": "numeric", "min_value": 1e300, "unit": "mm"}]),
        ),
        ("nonconformances", {"title": "x", "severity": "catastrophic"}),
        ("nonconformances", {"title": "x", "severity": "minor", "defect_codes": ["has space"]}),
        # PostgreSQL cannot store a NUL in text: it was a 500 there.
        ("nonconformances", {"title": "x", "severity": "minor", "action_plan": "a\u0000b"}),
        ("supplier-cases", {"supplier_id": "", "title": "x"}),
        ("capas", {"kind": "corrective", "title": "x", "owner": "o", "due_date": "tomorrow"}),
        (
            "capas",
            {"kind": "corrective", "title": "x", "owner": "o", "actions": [{"description": "a", "done": 0}]},
        ),
        ("defect-codes", {"code": "D1"}),
    ],
)
async def test_bad_input_is_a_400_problem_and_writes_nothing(qms: Api, path: str, body: Body) -> None:
    before = await count(qms.database_url, "kit_outbox")
    response = qms.http.post(f"{API}/{path}", json=body)
    problem(response, 400, "validation")
    assert response.json()["detail"]
    assert await count(qms.database_url, "kit_outbox") == before


def test_reading_needs_a_token_and_writing_needs_the_write_scope(qms: Api) -> None:
    with client(qms.service) as anonymous:
        problem(anonymous.get(f"{API}/capas"), 401, "unauthenticated")
    with client(qms.service, scopes=["qms:read"]) as reader:
        assert reader.get(f"{API}/capas").status_code == 200
        problem(
            reader.post(f"{API}/capas", json={"kind": "corrective", "title": "t", "owner": "o"}),
            403,
            "insufficient-scope",
        )


def test_an_integral_float_is_an_integer_as_json_schema_says(qms: Api) -> None:
    lot = ok(qms.http.post(f"{API}/inspection-lots", json=lot_body(sample_size=5.0)), 201)
    assert lot["sample_size"] == 5
