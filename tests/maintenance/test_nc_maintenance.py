"""Flow 1: nonconformances on a machine → maintenance request, production hold, stock hold,
supplier case."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.maintenance.conftest import Plant, new_tag, ok, step
from tests.support.wait import eventually


def test_a_critical_nonconformance_raises_maintenance_holds_production_and_stock(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    run = plant.production(tag, machine)
    nc = plant.nonconformance(machine, "critical", order_id=run["order_id"], lot_id=run["finished_lot"])

    flow = plant.flow_done(nonconformance_id=nc["nc_id"], type="nc_maintenance")
    assert step(flow, "resolve_equipment")["asset_id"] == machine["asset_id"]
    request_id = step(flow, "request_maintenance")["request_id"]
    request = ok(plant.cmms.get(f"/cmms/v1/maintenance-requests/{request_id}"))
    assert (request["asset_id"], request["type"], request["priority"]) == (
        machine["asset_id"],
        "corrective",
        "emergency",
    )
    assert (request["nonconformance_id"], request["production_order"]) == (nc["nc_id"], run["order_id"])
    assert run["raw_lot"] in request["details"]
    assert run["finished_lot"] in request["details"]

    order = ok(plant.mes.get(f"/mes/v1/production-orders/{run['order_id']}"))
    assert (order["status"], order["maintenance_request_id"]) == ("held", request_id)
    assert plant.balances(run["finished_lot"]) == {"WH-FG:BLOCKED": 30.0}

    case_ids = step(flow, "open_supplier_cases")["supplier_case_ids"]
    assert len(case_ids) == 1
    case = ok(plant.qms.get(f"/qms/v1/supplier-cases/{case_ids[0]}"))
    assert (case["supplier_id"], case["lot_ids"], case["nc_ids"]) == (
        run["supplier_id"],
        [run["raw_lot"]],
        [nc["nc_id"]],
    )


def test_three_minor_nonconformances_within_the_window_raise_one_request(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    run = plant.production(tag, machine)
    first = [plant.nonconformance(machine, "minor", order_id=run["order_id"])["nc_id"] for _ in range(2)]
    # Two are below the plant's threshold: a later event on the same stream shows they were handled.
    marker = plant.machine(f"{tag}M")
    plant.flow_done(nonconformance_id=plant.nonconformance(marker, "critical")["nc_id"])
    assert plant.flows(equipment_id=machine["equipment_id"]) == []

    third = plant.nonconformance(machine, "minor", order_id=run["order_id"])["nc_id"]
    flow = plant.flow_done(equipment_id=machine["equipment_id"], type="nc_maintenance")
    assert flow["data"]["nc_ids"] == [*first, third]
    assert flow["data"]["started_by"] == "threshold"
    request = ok(
        plant.cmms.get(f"/cmms/v1/maintenance-requests/{step(flow, 'request_maintenance')['request_id']}")
    )
    assert request["priority"] == "high"  # repeated, though each one is minor
    assert all(nc in request["details"] for nc in [*first, third])
    assert "open_supplier_cases" not in [s["name"] for s in flow["steps"] if s["status"] == "done"]

    # A fourth starts counting again rather than raising a second request.
    plant.nonconformance(machine, "minor", order_id=run["order_id"])
    plant.flow_done(nonconformance_id=plant.nonconformance(marker, "critical")["nc_id"])
    assert len(plant.flows(equipment_id=machine["equipment_id"])) == 1


def test_the_asset_is_the_one_mapped_when_the_nonconformance_was_found(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    nc = ok(
        plant.qms.post(
            "/qms/v1/nonconformances",
            json={"title": "Surface finish", "severity": "minor", "equipment_id": machine["equipment_id"]},
        )
    )
    # Later the machine position gets a rebuilt asset: the NC still belongs to the old one.
    ok(
        plant.cmms.post(
            "/cmms/v1/assets",
            json={
                "asset_id": f"AS-{tag}-R",
                "tag": f"T-{tag}-R",
                "description": "rebuilt lathe",
                "site": "P1",
            },
        )
    )
    listed = ok(
        plant.xref.get("/xref/v1/mappings", params={"system": "cmms", "system_id": machine["asset_id"]})
    )
    old = plant.xref.get(f"/xref/v1/mappings/{listed['items'][0]['mapping_id']}")
    swap = datetime.now(UTC).isoformat()
    ok(
        plant.xref.patch(
            f"/xref/v1/mappings/{old.json()['mapping_id']}",
            headers={"If-Match": old.headers["ETag"]},
            json={"valid_to": swap},
        )
    )
    ok(
        plant.xref.post(
            "/xref/v1/mappings",
            json={
                "canonical_id": machine["canonical_id"],
                "system": "cmms",
                "system_id": f"AS-{tag}-R",
                "valid_from": swap,
            },
        )
    )

    started = plant.maintenance.post("/maintenance/v1/flows/nc-maintenance", json={"nc_ids": [nc["nc_id"]]})
    assert started.status_code == 201, started.text
    flow = plant.flow_done(nonconformance_id=nc["nc_id"])
    assert step(flow, "resolve_equipment")["asset_id"] == machine["asset_id"]
    request = ok(
        plant.cmms.get(f"/cmms/v1/maintenance-requests/{step(flow, 'request_maintenance')['request_id']}")
    )
    assert request["asset_id"] == machine["asset_id"]
    assert step(flow, "read_production") == {"order_id": None}


def test_erp_down_mid_flow_the_flow_waits_then_blocks_once(plant: Plant) -> None:
    tag = new_tag()
    machine = plant.machine(tag)
    run = plant.production(tag, machine)
    erp = plant.process("erp")
    erp.kill()
    try:
        nc = plant.nonconformance(machine, "critical", order_id=run["order_id"], lot_id=run["finished_lot"])
        waiting = eventually(
            lambda: next(
                (f for f in plant.flows(nonconformance_id=nc["nc_id"]) if f["status"] == "waiting"), None
            )
        )
        # Maintenance is requested and production held before the ERP step that waits.
        assert [s["name"] for s in waiting["steps"] if s["status"] == "failed"] == ["plan_lot_holds"]
        assert ok(plant.mes.get(f"/mes/v1/production-orders/{run['order_id']}"))["status"] == "held"
    finally:
        erp.start()
    flow = plant.flow_done(nonconformance_id=nc["nc_id"])
    assert plant.balances(run["finished_lot"]) == {"WH-FG:BLOCKED": 30.0}
    blocks = ok(
        plant.erp.get(
            "/erp/v1/inventory-transactions", params={"lot_id": run["finished_lot"], "type": "block"}
        )
    )["items"]
    assert len(blocks) == 1
    requests = ok(plant.cmms.get("/cmms/v1/maintenance-requests", params={"nonconformance_id": nc["nc_id"]}))
    assert [r["request_id"] for r in requests["items"]] == [step(flow, "request_maintenance")["request_id"]]
