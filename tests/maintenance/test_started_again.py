"""An operator starting a maintenance flow by API for work a flow already does: the answer is that
flow, and nothing is raised or posted twice (one maintenance request per nonconformance, one
posting of a work order's parts and cost however many completion flows run)."""

from __future__ import annotations

from typing import Any

from tests.maintenance.conftest import Plant, new_tag, ok, step
from tests.maintenance.test_completion import assert_posted_once
from tests.support.wait import eventually

COMPLETION = "/maintenance/v1/flows/work-order-completion"
NC_MAINTENANCE = "/maintenance/v1/flows/nc-maintenance"


def stalled_at(plant: Plant, flow_id: str, name: str) -> dict[str, Any]:
    def stalled() -> dict[str, Any] | None:
        flow: dict[str, Any] = ok(plant.maintenance.get(f"/maintenance/v1/flows/{flow_id}"))
        failed = [s["name"] for s in flow["steps"] if s["status"] == "failed"]
        return flow if flow["status"] == "stalled" and failed == [name] else None

    found: dict[str, Any] = eventually(stalled)
    return found


def completed_work_order(plant: Plant, tag: str, spare: dict[str, str]) -> str:
    """A work order with a spare part and 2.5 h at 60.00, reported complete, holding a production
    order MES does not know: its completion flow posts, then stalls at resume_order (a 404)."""
    machine = plant.machine(tag)
    wo = ok(
        plant.cmms.post(
            "/cmms/v1/work-orders",
            json={
                "asset_id": machine["asset_id"],
                "description": "spindle bearing",
                "type": "preventive",
                "production_order": f"MO-{tag}",
            },
        )
    )
    path = f"/cmms/v1/work-orders/{wo['wo_id']}"
    for action in ("release", "start"):
        ok(plant.cmms.post(f"{path}/{action}"))
    ok(
        plant.cmms.post(
            f"{path}/parts", json={"item_id": spare["item_id"], "quantity": 2, "warehouse": "WH-SPARES"}
        )
    )
    ok(plant.cmms.post(f"{path}/labor", json={"person_id": "TECH-7", "hours": 2.5, "rate": "60.00"}))
    ok(plant.cmms.post(f"{path}/complete", json={}))
    return str(wo["wo_id"])


def test_starting_a_completion_again_never_posts_the_work_orders_cost_twice(plant: Plant) -> None:
    tag = new_tag()
    spare = plant.spare(tag, stock=20, reorder_point=5)
    wo_id = completed_work_order(plant, tag, spare)
    first = eventually(
        lambda: next(iter(plant.flows(work_order_id=wo_id, type="work_order_completion")), None)
    )
    first = stalled_at(plant, first["flow_id"], "resume_order")
    assert_posted_once(plant, wo_id, spare)

    # "Start the completion again" while a flow for the work order stands: that flow is the answer.
    again = plant.maintenance.post(COMPLETION, json={"wo_id": wo_id})
    assert again.status_code == 200, again.text
    assert again.json()["flow_id"] == first["flow_id"]
    assert [f["flow_id"] for f in plant.flows(work_order_id=wo_id, type="work_order_completion")] == [
        first["flow_id"]
    ]

    # Cancelled to start over, the new flow replays the first one's postings in ERP.
    ok(plant.maintenance.post(f"/maintenance/v1/flows/{first['flow_id']}/cancel"))
    over = plant.maintenance.post(COMPLETION, json={"wo_id": wo_id})
    assert over.status_code == 201, over.text
    second = stalled_at(plant, over.json()["flow_id"], "resume_order")
    assert second["flow_id"] != first["flow_id"]
    assert_posted_once(plant, wo_id, spare)
    assert step(second, "post_costs")["posting_ids"] == step(first, "post_costs")["posting_ids"]
    assert step(second, "issue_parts")["txn_ids"] == step(first, "issue_parts")["txn_ids"]
    assert plant.balances(spare["lot_id"]) == {"WH-SPARES:UNRESTRICTED": 18.0}
    ok(plant.maintenance.post(f"/maintenance/v1/flows/{second['flow_id']}/cancel"))


def test_starting_maintenance_for_a_nonconformance_already_in_a_flow_raises_no_second_request(
    plant: Plant,
) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    critical = plant.nonconformance(machine, "critical")
    flow = plant.flow_done(nonconformance_id=critical["nc_id"], type="nc_maintenance")

    def requests() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(
            plant.cmms.get("/cmms/v1/maintenance-requests", params={"asset_id": machine["asset_id"]})
        )["items"]
        return found

    assert len(requests()) == 1

    # The NC's event started its flow: the operator's start answers with it and raises nothing.
    again = plant.maintenance.post(NC_MAINTENANCE, json={"nc_ids": [critical["nc_id"]]})
    assert again.status_code == 200, again.text
    assert again.json()["flow_id"] == flow["flow_id"]

    # Naming it with an NC no flow took yet: refused, naming the flow it went into.
    minor = plant.nonconformance(machine, "minor")
    mixed = plant.maintenance.post(NC_MAINTENANCE, json={"nc_ids": [critical["nc_id"], minor["nc_id"]]})
    assert mixed.status_code == 409, mixed.text
    problem = mixed.json()
    assert problem["type"].endswith(":nonconformance-in-flow")
    assert problem["flows"] == {critical["nc_id"]: flow["flow_id"]}

    # The free one alone starts one flow; starting it again answers with that flow.
    started = plant.maintenance.post(NC_MAINTENANCE, json={"nc_ids": [minor["nc_id"]]})
    assert started.status_code == 201, started.text
    repeated = plant.maintenance.post(NC_MAINTENANCE, json={"nc_ids": [minor["nc_id"]]})
    assert (repeated.status_code, repeated.json()["flow_id"]) == (200, started.json()["flow_id"])
    plant.flow_done(nonconformance_id=minor["nc_id"], type="nc_maintenance")

    assert len(plant.flows(nonconformance_id=critical["nc_id"], type="nc_maintenance")) == 1
    assert len(requests()) == 2  # one for each nonconformance
