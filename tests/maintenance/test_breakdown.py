"""Flow 3: a breakdown → one maintenance request with the production context, however many
systems report it."""

from __future__ import annotations

from typing import Any

from tests.maintenance.conftest import Plant, new_tag, ok, step
from tests.support.wait import eventually


def requests_for(plant: Plant, asset_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(
        plant.cmms.get("/cmms/v1/maintenance-requests", params={"asset_id": asset_id})
    )["items"]
    return items


def test_a_machine_down_on_the_shop_floor_raises_one_request_with_production_context(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag, criticality="A")
    run = plant.production(tag, machine)
    ok(
        plant.mes.post(
            f"/mes/v1/equipment/{machine['equipment_id']}/state",
            json={"state": "down", "reason": "spindle seized", "order_id": run["order_id"]},
        )
    )

    flow = plant.flow_done(equipment_id=machine["equipment_id"], type="breakdown")
    request = ok(
        plant.cmms.get(f"/cmms/v1/maintenance-requests/{step(flow, 'request_maintenance')['request_id']}")
    )
    assert (request["asset_id"], request["priority"], request["production_order"]) == (
        machine["asset_id"],
        "emergency",
        run["order_id"],
    )
    assert "spindle seized" in request["description"]
    assert run["raw_lot"] in request["details"]
    # Production stops with the machine: the order is held for this request until the repair.
    order = ok(plant.mes.get(f"/mes/v1/production-orders/{run['order_id']}"))
    assert (order["status"], order["maintenance_request_id"]) == ("held", request["request_id"])
    # The flow opened the CMMS downtime; that asset.down names the request, so it raises nothing more.
    asset = ok(plant.cmms.get(f"/cmms/v1/assets/{machine['asset_id']}"))
    assert asset["status"] == "down"
    downtime = ok(plant.cmms.get(f"/cmms/v1/assets/{machine['asset_id']}/downtime"))["items"]
    assert [d["maintenance_request_id"] for d in downtime] == [request["request_id"]]
    marker = plant.machine(f"{tag}M")
    ok(plant.cmms.post(f"/cmms/v1/assets/{marker['asset_id']}/down", json={"reason": "marker"}))
    plant.flow_done(asset_id=marker["asset_id"], type="breakdown")
    assert len(requests_for(plant, machine["asset_id"])) == 1
    assert len(plant.flows(asset_id=machine["asset_id"], type="breakdown")) == 0  # keyed by equipment


def test_the_same_stop_reported_by_cmms_and_mes_raises_one_request(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    ok(plant.cmms.post(f"/cmms/v1/assets/{machine['asset_id']}/down", json={"reason": "hydraulic leak"}))
    ok(
        plant.mes.post(
            f"/mes/v1/equipment/{machine['equipment_id']}/state",
            json={"state": "down", "reason": "hydraulic leak"},
        )
    )
    first = plant.flow_done(asset_id=machine["asset_id"], type="breakdown")
    second = plant.flow_done(equipment_id=machine["equipment_id"], type="breakdown")
    owners = {step(f, "claim_breakdown")["breakdown_flow_id"] for f in (first, second)}
    assert owners == {first["flow_id"]} or owners == {second["flow_id"]}
    assert len(requests_for(plant, machine["asset_id"])) == 1

    # Back in service, the next stop is a new breakdown with its own request.
    ok(plant.cmms.post(f"/cmms/v1/assets/{machine['asset_id']}/restore", json={"note": "fixed"}))
    ok(plant.mes.post(f"/mes/v1/equipment/{machine['equipment_id']}/state", json={"state": "running"}))
    eventually(
        lambda: ok(
            plant.mes.post(
                f"/mes/v1/equipment/{machine['equipment_id']}/state",
                json={"state": "down", "reason": "again"},
            )
        )
    )
    eventually(lambda: len(requests_for(plant, machine["asset_id"])) == 2)


def test_cmms_down_the_breakdown_waits_then_raises_one_request(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    cmms = plant.process("cmms")
    cmms.stop()
    try:
        ok(
            plant.mes.post(
                f"/mes/v1/equipment/{machine['equipment_id']}/state",
                json={"state": "down", "reason": "no power"},
            )
        )
        eventually(
            lambda: any(
                f["status"] == "waiting" and f["last_error"]
                for f in plant.flows(equipment_id=machine["equipment_id"])
            )
        )
    finally:
        cmms.start()
    plant.flow_done(equipment_id=machine["equipment_id"], type="breakdown")
    assert len(requests_for(plant, machine["asset_id"])) == 1
    assert ok(plant.cmms.get(f"/cmms/v1/assets/{machine['asset_id']}"))["status"] == "down"


def test_a_breakdown_can_be_started_by_api_and_names_one_machine(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    both = plant.maintenance.post(
        "/maintenance/v1/flows/breakdown",
        json={"reason": "noise", "equipment_id": machine["equipment_id"], "asset_id": machine["asset_id"]},
    )
    assert both.status_code == 422
    assert both.json()["type"].endswith(":machine-required")
    started = plant.maintenance.post(
        "/maintenance/v1/flows/breakdown", json={"reason": "noise", "asset_id": machine["asset_id"]}
    )
    assert started.status_code == 201, started.text
    flow = plant.flow_done(asset_id=machine["asset_id"], type="breakdown")
    assert step(flow, "resolve_asset")["equipment_id"] == machine["equipment_id"]
    assert len(requests_for(plant, machine["asset_id"])) == 1
