"""Supplier portal in process, calling QMS and ERP served in process: a supplier sees only itself,
and another supplier's record is 404 on every path and filter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.experience import seed
from tests.support.http import client
from tests.support.inprocess import Apps

API = "/supplier/v1"


def portal(apps: Apps, supplier_id: str) -> httpx.Client:
    return client(
        apps.services["supplier"],
        scopes=["supplier:portal"],
        claims={"supplier_id": supplier_id},
        client_id=f"portal-{supplier_id}",
    )


@pytest.fixture(scope="module")
def qms(apps: Apps) -> Iterator[httpx.Client]:
    with client(apps.services["qms"], scopes=["qms:read", "qms:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def erp(apps: Apps) -> Iterator[httpx.Client]:
    with client(apps.services["erp"], scopes=["erp:read", "erp:write"]) as http:
        yield http


@pytest.fixture(scope="module")
def world(qms: httpx.Client, erp: httpx.Client) -> dict[str, Any]:
    a, b = f"SUP-A-{seed.tag()}", f"SUP-B-{seed.tag()}"
    nc_a = seed.nonconformance(qms, supplier_id=a)
    case_a = seed.supplier_case(qms, a, nc_ids=[nc_a], due_date="2999-01-01")
    draft_a = seed.supplier_case(qms, a, issue=False)
    case_b = seed.supplier_case(qms, b, nc_ids=[seed.nonconformance(qms, supplier_id=b)])
    good, bad = seed.received_lot(erp, a, 900), seed.received_lot(erp, a, 100)
    lot_b = seed.received_lot(erp, b, 50)
    insp_a = seed.inspection(qms, a, good, passed=True)
    seed.inspection(qms, a, bad, passed=False)
    insp_b = seed.inspection(qms, b, lot_b, passed=False)
    return {
        "a": a,
        "b": b,
        "nc_a": nc_a,
        "case_a": case_a["case_id"],
        "draft_a": draft_a["case_id"],
        "case_b": case_b["case_id"],
        "insp_a": insp_a["inspection_lot_id"],
        "insp_b": insp_b["inspection_lot_id"],
    }


ANSWER = {
    "containment": "Sorted stock at our site",
    "root_cause": "Worn deburring tool",
    "corrective_action": "Tool life monitoring",
}


def test_a_supplier_sees_its_cases_with_their_nonconformances(apps: Apps, world: dict[str, Any]) -> None:
    with portal(apps, world["a"]) as me:
        cases = seed.ok(me.get(f"{API}/cases"))
        assert [c["case_id"] for c in cases["items"]] == [world["case_a"]]  # not the unissued draft
        case = me.get(f"{API}/cases/{world['case_a']}")
        assert case.status_code == 200
        assert case.headers["ETag"] == f'"{case.json()["version"]}"'
        assert [n["nc_id"] for n in case.json()["nonconformances"]] == [world["nc_a"]]
        assert case.json()["awaiting_response"] is True


def test_another_suppliers_records_are_404_on_every_path_and_filter(
    apps: Apps, world: dict[str, Any], qms: httpx.Client
) -> None:
    with portal(apps, world["a"]) as me:
        for path in (
            f"/cases/{world['case_b']}",
            f"/cases/{world['draft_a']}",
            f"/inspections/{world['insp_b']}",
            "/cases/NO-SUCH-CASE",
            "/inspections/NO-SUCH-LOT",
        ):
            assert me.get(API + path).status_code == 404, path
        for case_id in (world["case_b"], world["draft_a"]):
            answered = me.post(
                f"{API}/cases/{case_id}/response",
                json=ANSWER,
                headers={"Idempotency-Key": f"probe-{case_id}"},
            )
            assert answered.status_code == 404, answered.text
        # Filters cannot widen the view: the supplier comes from the token only, and a query that
        # tries to name one is refused (400 naming the parameter), never quietly answered.
        for params in ({}, {"status": "issued"}, {"limit": 500}):
            listed = seed.ok(me.get(f"{API}/cases", params=params))["items"]
            assert {c["case_id"] for c in listed} <= {world["case_a"]}, params
        for params in ({}, {"limit": 500}, {"result": "fail"}):
            inspections = seed.ok(me.get(f"{API}/inspections", params=params))["items"]
            assert world["insp_b"] not in {i["inspection_lot_id"] for i in inspections}, params
            assert all(i["lot_id"] for i in inspections)
        for path in ("/cases", "/inspections", "/scorecard"):
            refused = me.get(API + path, params={"supplier_id": world["b"]})
            assert refused.status_code == 400, refused.text
            assert refused.json()["unknown_parameters"] == ["supplier_id"]
    assert seed.ok(qms.get(f"/qms/v1/supplier-cases/{world['case_b']}"))["responses"] == []
    assert seed.ok(qms.get(f"/qms/v1/supplier-cases/{world['draft_a']}"))["responses"] == []


def test_inspections_and_scorecard(apps: Apps, world: dict[str, Any]) -> None:
    with portal(apps, world["a"]) as me:
        inspections = seed.ok(me.get(f"{API}/inspections"))["items"]
        assert sorted(i["result"] for i in inspections) == ["fail", "pass"]
        one = seed.ok(me.get(f"{API}/inspections/{world['insp_a']}"))
        assert (one["disposition"], one["characteristics"][0]["evaluation"]) == ("release", "pass")
        card = seed.ok(me.get(f"{API}/scorecard"))
        # A window past the plant years: a 422, not a 500 once a period's end overflows.
        far = {"since": "9999-06-01", "until": "9999-12-31", "period": "month"}
        answer = me.get(f"{API}/scorecard", params=far)
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == "urn:plantbridge:problem:invalid-date"
    assert card["lots_received"] == 2
    assert card["received_quantity"] == 1000
    assert card["rejected_quantity"] == 100
    assert card["reject_rate_ppm"] == 100_000
    assert card["open_cases"] == 1
    assert card["warnings"] == []


def test_answering_a_case_and_seeing_the_verdict(
    apps: Apps, world: dict[str, Any], qms: httpx.Client
) -> None:
    with portal(apps, world["a"]) as me:
        current = me.get(f"{API}/cases/{world['case_a']}")
        stale = me.post(f"{API}/cases/{world['case_a']}/response", json=ANSWER, headers={"If-Match": '"999"'})
        assert stale.status_code == 412, stale.text
        key = {"Idempotency-Key": "answer-1", "If-Match": current.headers["ETag"]}
        first = me.post(f"{API}/cases/{world['case_a']}/response", json=ANSWER, headers=key)
        again = me.post(f"{API}/cases/{world['case_a']}/response", json=ANSWER, headers=key)
        assert first.status_code == again.status_code == 200, first.text
        assert len(first.json()["responses"]) == 1
        assert again.json() == first.json()
        seed.ok(qms.post(f"/qms/v1/supplier-cases/{world['case_a']}/reject", json={"reason": "No evidence"}))
        case = seed.ok(me.get(f"{API}/cases/{world['case_a']}"))
        assert (case["status"], case["responses"][0]["verdict"]) == ("rejected", "rejected")
        assert case["responses"][0]["verdict_reason"] == "No evidence"
        late = me.post(f"{API}/cases/{world['case_a']}/response", json=ANSWER)
        assert late.status_code == 409, late.text  # rejected: QMS must issue it again first
        card = seed.ok(me.get(f"{API}/scorecard"))
    assert card["responded_cases"] == 1
    assert card["on_time_response_rate"] == 1.0
    assert card["average_response_days"] is not None


def test_a_token_without_a_supplier_is_refused(apps: Apps) -> None:
    with client(apps.services["supplier"], scopes=["supplier:portal"]) as nobody:
        for path in ("/cases", "/inspections", "/scorecard"):
            assert nobody.get(API + path).status_code == 403
