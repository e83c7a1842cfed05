"""Approval of batch release: the plant's rule holds a production release for a second person.
The flow waits visibly in awaiting_approval with the lot still in quality inspection, is escalated
when nobody answers in time, cannot be approved by the inspector who decided, and goes on (or is
cancelled) on a qualified person's answer; every step of it is in the audit trail."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.http import client
from tests.support.wait import eventually
from tests.traceability.conftest import Plant, ok, tag


def approver(
    plant: Plant, client_id: str, *, person: str | None = None, scopes: tuple[str, ...] = ()
) -> httpx.Client:
    return client(
        plant.platform.services["quality"],
        scopes=["quality:read", *scopes],
        claims={"person_id": person} if person else None,
        client_id=client_id,
    )


def released_batch(plant: Plant, inspector: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A finished batch (received into quality inspection by the production flow) that the
    inspector releases; returns the lot and its usage-decision flow, waiting for approval."""
    raw, part = plant.item("RM-RESIN", inspected=False), plant.item("HOUSING", inspected=False)
    lot_id = f"LOT-H-{tag()}"
    plant.produce(part, (raw, f"LOT-R-{tag()}", 10), lot_id, 50)
    plant.flow_done(lot_id=lot_id, type="production_inspection")
    plant.decide(lot_id, passed=True, disposition="release", decided_by="insp.kim", qms=inspector)

    def waiting() -> Any:
        flows = ok(
            plant.quality.get("/quality/v1/flows", params={"lot_id": lot_id, "type": "usage_decision"})
        )
        return next((f for f in flows["items"] if f["status"] == "awaiting_approval"), None)

    flow: dict[str, Any] = eventually(waiting)
    return lot_id, flow


def test_a_release_waits_is_escalated_and_goes_on_after_a_second_persons_approval(plant: Plant) -> None:
    inspector = client(
        plant.platform.services["qms"], scopes=["qms:read", "qms:write"], client_id="inspector-kim"
    )
    with inspector:
        lot_id, flow = released_batch(plant, inspector)
    approval = flow["approval"]
    assert (approval["status"], approval["requested_by"]) == ("pending", "insp.kim")
    assert flow["steps"][0] == {"name": "approve_decision", "status": "awaiting_approval", "result": None}
    assert "release of lot" in approval["subject"]
    assert plant.balances(lot_id) == {"FG:QUALITY_INSPECTION": 50.0}  # nothing moves meanwhile

    # Nobody answers within the plant's time: escalated once, announced to the QA manager.
    def escalated() -> Any:
        found = ok(plant.quality.get(f"/quality/v1/approvals/{approval['approval_id']}"))
        return found if found["escalated_at"] else None

    late = eventually(escalated)
    assert late["escalate_to"] == "qa-manager"
    events = [e for e in plant.platform.events("events.quality") if e.subject == flow["flow_id"]]
    assert [e.type for e in events] == ["quality.approval.requested.v1", "quality.approval.escalated.v1"]

    approve = f"/quality/v1/approvals/{approval['approval_id']}/approve"
    # The inspector who decided cannot approve it: not by the same client, nor as the person named.
    for same, person in (("inspector-kim", None), ("tablet-3", "insp.kim")):
        with approver(plant, same, person=person, scopes=("quality:approve",)) as http:
            refused = http.post(approve, json={"comment": "fine"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith(":approver-is-requester")
    with approver(plant, "qa-viewer") as http:
        assert http.post(approve, json={}).status_code == 403  # lacks quality:approve

    with approver(plant, "qa-lead", person="P-QA-1", scopes=("quality:approve",)) as lead:
        given = ok(lead.post(approve, json={"comment": "CoA checked"}))
        assert (given["status"], given["decided_by"]) == ("approved", "P-QA-1 (qa-lead)")
        again = lead.post(approve, json={})
        assert (again.status_code, again.json()["current_state"]) == (409, "approved")
    done = plant.flow_done(lot_id=lot_id, type="usage_decision")
    step = next(s for s in done["steps"] if s["name"] == "approve_decision")
    assert step["result"]["approved_by"] == "P-QA-1 (qa-lead)"
    assert plant.balances(lot_id) == {"FG:UNRESTRICTED": 50.0}
    timeline = ok(plant.quality.get(f"/quality/v1/flows/{done['flow_id']}/timeline"))["entries"]
    kinds = [e["kind"] for e in timeline]
    assert kinds[:4] == ["started", "awaiting_approval", "approval_escalated", "approved"]

    # The audit trail: asked for by the flow runner, escalated, approved by the person via their client.
    entries = ok(plant.quality.get("/quality/v1/audit", params={"record_id": approval["approval_id"]}))[
        "items"
    ]
    assert [(e["action"], e["actor"]["client_id"]) for e in entries] == [
        ("created", "flow-runner"),
        ("updated", "flow-runner"),
        ("updated", "qa-lead"),
    ]
    assert entries[1]["changes"]["escalated_at"]["before"] is None
    assert entries[2]["changes"]["status"] == {"before": "pending", "after": "approved"}
    assert entries[2]["actor"]["person_id"] == "P-QA-1"


def test_a_refused_release_cancels_the_flow_and_leaves_the_stock_in_inspection(plant: Plant) -> None:
    inspector = client(
        plant.platform.services["qms"], scopes=["qms:read", "qms:write"], client_id="inspector-lee"
    )
    with inspector:
        lot_id, flow = released_batch(plant, inspector)
    reject = f"/quality/v1/approvals/{flow['approval']['approval_id']}/reject"
    with approver(plant, "qa-lead", person="P-QA-1", scopes=("quality:approve",)) as lead:
        unexplained = lead.post(reject, json={})
        assert (unexplained.status_code, unexplained.json()["type"].rsplit(":", 1)[-1]) == (
            422,
            "comment-required",
        )
        ok(lead.post(reject, json={"comment": "Sink marks on 3 of 5 samples"}))
    cancelled = ok(plant.quality.get(f"/quality/v1/flows/{flow['flow_id']}"))
    assert (cancelled["status"], cancelled["approval"]["status"]) == ("cancelled", "rejected")
    assert plant.balances(lot_id) == {"FG:QUALITY_INSPECTION": 50.0}


def test_an_operators_start_acts_on_the_decision_qms_holds_and_its_caller_may_not_approve_it(
    plant: Plant,
) -> None:
    """`POST /flows/usage-decision` re-drives a decision recorded in QMS. It once took whatever
    the caller named, and the caller could then approve its own release: stock left quality
    inspection though QMS had decided nothing."""
    raw, part = plant.item("RM-RESIN", inspected=False), plant.item("HOUSING", inspected=False)
    lot_id = f"LOT-H-{tag()}"
    plant.produce(part, (raw, f"LOT-R-{tag()}", 10), lot_id, 50)
    plant.flow_done(lot_id=lot_id, type="production_inspection")
    inspection_lot_id = plant.inspection_of(lot_id)["inspection_lot_id"]
    body = {
        "inspection_lot_id": inspection_lot_id,
        "lot_id": lot_id,
        "item_id": part,
        "disposition": "release",
        "code": "A1",
        "decided_by": "insp.kim",
        "origin": "production",
    }
    start = "/quality/v1/flows/usage-decision"

    def decision_flows() -> list[dict[str, Any]]:
        found = ok(
            plant.quality.get("/quality/v1/flows", params={"lot_id": lot_id, "type": "usage_decision"})
        )
        return list(found["items"])

    with approver(plant, "qe-solo", scopes=("quality:write", "quality:approve")) as solo:
        refused = solo.post(start, json=body)
        assert (refused.status_code, refused.json()["type"].rsplit(":", 1)[-1]) == (
            409,
            "decision-not-recorded",
        )
        assert "no usage decision" in refused.json()["detail"]
        unknown = solo.post(start, json=body | {"inspection_lot_id": "IL-NOPE"})
        assert (unknown.status_code, unknown.json()["type"].rsplit(":", 1)[-1]) == (
            422,
            "unknown-inspection-lot",
        )
        assert decision_flows() == []
        assert plant.balances(lot_id) == {"FG:QUALITY_INSPECTION": 50.0}

        plant.decide(lot_id, passed=True, disposition="release", decided_by="insp.kim")
        other = solo.post(start, json=body | {"disposition": "use_as_is"})
        assert other.status_code == 409, other.text
        started = ok(solo.post(start, json=body), 201)

        def waiting() -> Any:
            flow = ok(solo.get(f"/quality/v1/flows/{started['flow_id']}"))
            return flow if flow["status"] == "awaiting_approval" else None

        approval = eventually(waiting)["approval"]
        own = solo.post(f"/quality/v1/approvals/{approval['approval_id']}/approve", json={"comment": "me"})
        assert own.status_code == 403, own.text
        assert own.json()["type"].endswith(":approver-is-requester")
    assert plant.balances(lot_id) == {"FG:QUALITY_INSPECTION": 50.0}
