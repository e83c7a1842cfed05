"""Flow 2: a technically complete work order → spare parts issued and cost posted in ERP, CAPA
updated, asset restored, production resumed, work order closed; exactly once, whatever fails."""

from __future__ import annotations

from typing import Any

from tests.maintenance.conftest import Plant, new_tag, ok, step
from tests.support.wait import eventually


def erp_records(plant: Plant, wo_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    txns = ok(plant.erp.get("/erp/v1/inventory-transactions", params={"order_ref": wo_id}))["items"]
    costs = ok(plant.erp.get("/erp/v1/cost-postings", params={"order_ref": wo_id}))["items"]
    return txns, costs


def assert_posted_once(plant: Plant, wo_id: str, spare: dict[str, str]) -> None:
    txns, costs = erp_records(plant, wo_id)
    assert [(t["type"], t["lot_id"], t["quantity"], t["cost_centre"]) for t in txns] == [
        ("issue", spare["lot_id"], 2.0, txns[0]["cost_centre"])
    ]
    assert sorted((c["kind"], c["amount"]) for c in costs) == [("labor", "150.0000"), ("material", "25.0000")]


def waiting_flow(plant: Plant, wo_id: str, failed_step: str) -> dict[str, Any]:
    def waiting() -> dict[str, Any] | None:
        for flow in plant.flows(work_order_id=wo_id, type="work_order_completion"):
            failed = [s["name"] for s in flow["steps"] if s["status"] == "failed"]
            if flow["status"] == "waiting" and failed == [failed_step]:
                return flow
        return None

    flow: dict[str, Any] = eventually(waiting)
    return flow


def test_a_completed_repair_posts_parts_and_cost_updates_capa_and_resumes(plant: Plant) -> None:
    tag = new_tag()
    case = plant.raise_maintenance(tag)
    spare = plant.spare(tag, stock=20, reorder_point=5)
    wo = plant.repair(case["request_id"], parts=[(spare["item_id"], 2)], hours=2.5, rate="60.00")

    flow = plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    assert_posted_once(plant, wo["wo_id"], spare)
    txns, costs = erp_records(plant, wo["wo_id"])
    assert txns[0]["cost_centre"] == f"CC-{tag}"  # the asset's cost centre
    assert plant.balances(spare["lot_id"]) == {"WH-SPARES:UNRESTRICTED": 18.0}

    capas = ok(plant.qms.get("/qms/v1/capas", params={"nc_id": case["nc_id"]}))["items"]
    assert [(c["cause_codes"], c["correction_codes"]) for c in capas] == [(["BRG-WEAR"], ["REPLACE"])]
    assert ok(plant.cmms.get(f"/cmms/v1/assets/{case['asset_id']}"))["status"] == "in_service"
    assert ok(plant.mes.get(f"/mes/v1/production-orders/{case['order_id']}"))["status"] == "running"
    closed = ok(plant.cmms.get(f"/cmms/v1/work-orders/{wo['wo_id']}"))
    assert (closed["status"], closed["costs_posted"]) == ("closed", True)
    assert sorted(closed["cost_posting_ids"]) == sorted(c["posting_id"] for c in costs)
    assert step(flow, "post_costs")["total"] == {"EUR": "175.00"}


def test_an_existing_capa_gets_the_codes(plant: Plant) -> None:
    tag = new_tag()
    case = plant.raise_maintenance(tag)
    capa = ok(
        plant.qms.post(
            "/qms/v1/capas",
            json={
                "kind": "corrective",
                "title": "Spindle wear",
                "owner": "quality-eng",
                "nc_ids": [case["nc_id"]],
                "cause_codes": ["VIBRATION"],
            },
        )
    )
    wo = plant.repair(case["request_id"], parts=[])
    plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    updated = ok(plant.qms.get(f"/qms/v1/capas/{capa['capa_id']}"))
    assert (updated["cause_codes"], updated["correction_codes"]) == (["VIBRATION", "BRG-WEAR"], ["REPLACE"])
    assert len(ok(plant.qms.get("/qms/v1/capas", params={"nc_id": case["nc_id"]}))["items"]) == 1


def test_erp_down_the_flow_waits_then_posts_once(plant: Plant) -> None:
    tag = new_tag()
    case = plant.raise_maintenance(tag)
    spare = plant.spare(tag, stock=20, reorder_point=5)
    erp = plant.process("erp")
    erp.kill()
    try:
        wo = plant.repair(case["request_id"], parts=[(spare["item_id"], 2)])
        waiting = waiting_flow(plant, wo["wo_id"], "plan_issues")
        assert waiting["last_error"]
    finally:
        erp.start()
    plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    assert_posted_once(plant, wo["wo_id"], spare)


def test_qms_down_after_the_postings_the_flow_waits_and_does_not_post_again(plant: Plant) -> None:
    tag = new_tag()
    case = plant.raise_maintenance(tag)
    spare = plant.spare(tag, stock=20, reorder_point=5)
    qms = plant.process("qms")
    qms.stop()
    try:
        wo = plant.repair(case["request_id"], parts=[(spare["item_id"], 2)])
        waiting = waiting_flow(plant, wo["wo_id"], "update_capa")
        assert [s["status"] for s in waiting["steps"][:4]] == ["done", "done", "done", "done"]
        assert_posted_once(plant, wo["wo_id"], spare)  # posted before the outage, and only once
    finally:
        qms.start()
    flow = plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    assert_posted_once(plant, wo["wo_id"], spare)
    timeline = ok(plant.maintenance.get(f"/maintenance/v1/flows/{flow['flow_id']}/timeline"))["entries"]
    assert "step_failed" in [e["kind"] for e in timeline]
    assert ok(plant.cmms.get(f"/cmms/v1/work-orders/{wo['wo_id']}"))["status"] == "closed"


def test_a_replayed_completion_event_posts_nothing_twice(plant: Plant) -> None:
    tag = new_tag()
    case = plant.raise_maintenance(tag)
    spare = plant.spare(tag, stock=20, reorder_point=5)
    wo = plant.repair(case["request_id"], parts=[(spare["item_id"], 2)])
    plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")

    assert plant.platform.replay_event("events.cmms", "cmms.work_order.completed.v1", wo["wo_id"])
    # A later event on the same stream: once its flow exists, the replay before it was handled.
    marker = plant.machine(f"{tag}M")
    ok(plant.cmms.post(f"/cmms/v1/assets/{marker['asset_id']}/down", json={"reason": "marker"}))
    plant.flow_done(asset_id=marker["asset_id"], type="breakdown")

    assert len(plant.flows(work_order_id=wo["wo_id"], type="work_order_completion")) == 1
    assert_posted_once(plant, wo["wo_id"], spare)
