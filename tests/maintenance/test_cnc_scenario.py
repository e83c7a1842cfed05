"""The seed scenario, end to end: an in-process inspection finds repeated dimensional variance on a
CNC line; the fix reaches maintenance, production, stock and cost, and closes the loop in the CAPA.
One correlation id runs through every record and event in all four systems."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from tests.maintenance.conftest import Plant, new_tag, ok, step
from tests.support.db import rows

SYSTEMS = ("erp", "qms", "cmms", "mes")


def events_of(plant: Plant, system: str) -> list[dict[str, Any]]:
    """Every event the system ever staged (its outbox), decoded."""
    found = asyncio.run(rows(plant.platform.database_url_of(system), "SELECT payload FROM kit_outbox"))
    return [msgspec.json.decode(bytes(r.payload)) for r in found]


@pytest.fixture
def line(plant: Plant) -> Iterator[tuple[Plant, str]]:
    correlation_id = f"cnc-{uuid.uuid4()}"
    correlated = plant.correlated(correlation_id)
    yield correlated, correlation_id
    correlated.close()


def test_repeated_dimensional_variance_on_a_cnc_line_is_fixed_across_all_four_systems(
    line: tuple[Plant, str],
) -> None:
    plant, correlation_id = line
    tag = new_tag()
    machine = plant.machine(tag, criticality="A")
    run = plant.production(tag, machine)
    spare = plant.spare(tag, stock=6, reorder_point=5, price="84.00")

    # 1. In-process inspection: the bore drifts out of tolerance three times within the hour.
    ncs = [
        plant.nonconformance(machine, "minor", order_id=run["order_id"], lot_id=run["finished_lot"])["nc_id"]
        for _ in range(3)
    ]
    raised = plant.flow_done(equipment_id=machine["equipment_id"], type="nc_maintenance")
    request_id = step(raised, "request_maintenance")["request_id"]
    assert ok(plant.mes.get(f"/mes/v1/production-orders/{run['order_id']}"))["status"] == "held"
    assert plant.balances(run["finished_lot"]) == {"WH-FG:BLOCKED": 30.0}

    # 2. The technician replaces the spindle bearing (2 bearings, 3 h at 65.00).
    wo = plant.repair(request_id, parts=[(spare["item_id"], 2)], hours=3, rate="65.00")
    completed = plant.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    replenished = plant.flow_done(item_id=spare["item_id"], type="spares_replenishment")

    # --- final state: CMMS ---------------------------------------------------------------------------
    request = ok(plant.cmms.get(f"/cmms/v1/maintenance-requests/{request_id}"))
    assert (request["status"], request["nonconformance_id"], request["production_order"]) == (
        "completed",
        ncs[0],
        run["order_id"],
    )
    closed = ok(plant.cmms.get(f"/cmms/v1/work-orders/{wo['wo_id']}"))
    assert (closed["status"], closed["costs_posted"], closed["cause_code"]) == ("closed", True, "BRG-WEAR")
    assert ok(plant.cmms.get(f"/cmms/v1/assets/{machine['asset_id']}"))["status"] == "in_service"
    downtime = ok(plant.cmms.get(f"/cmms/v1/assets/{machine['asset_id']}/downtime"))["items"]
    assert [d["ended_at"] is not None for d in downtime] == [True]
    # --- MES: the order runs again ------------------------------------------------------------------
    order = ok(plant.mes.get(f"/mes/v1/production-orders/{run['order_id']}"))
    assert (order["status"], order["maintenance_request_id"]) == ("running", request_id)
    # --- ERP: suspect stock on hold, parts issued to the order, cost posted, a bearing requisition --
    assert plant.balances(run["finished_lot"]) == {"WH-FG:BLOCKED": 30.0}
    assert plant.balances(spare["lot_id"]) == {"WH-SPARES:UNRESTRICTED": 4.0}
    issues = ok(plant.erp.get("/erp/v1/inventory-transactions", params={"order_ref": wo["wo_id"]}))["items"]
    assert [(t["type"], t["quantity"], t["cost_centre"]) for t in issues] == [("issue", 2.0, f"CC-{tag}")]
    costs = ok(plant.erp.get("/erp/v1/cost-postings", params={"order_ref": wo["wo_id"]}))["items"]
    assert sorted((c["kind"], c["amount"]) for c in costs) == [
        ("labor", "195.0000"),
        ("material", "168.0000"),
    ]
    requisitions = ok(plant.erp.get("/erp/v1/purchase-requisitions", params={"item_id": spare["item_id"]}))[
        "items"
    ]
    assert [(r["status"], r["quantity"], r["source_ref"]) for r in requisitions] == [
        ("open", 6.0, wo["wo_id"])
    ]
    # --- QMS: the CAPA carries what failed and what was done -------------------------------------------
    capas = ok(plant.qms.get("/qms/v1/capas", params={"nc_id": ncs[0]}))["items"]
    assert [(c["cause_codes"], c["correction_codes"]) for c in capas] == [(["BRG-WEAR"], ["REPLACE"])]
    for nc_id in ncs:
        assert (
            ok(plant.qms.get(f"/qms/v1/nonconformances/{nc_id}"))["equipment_id"] == machine["equipment_id"]
        )

    # --- one correlation id everywhere ---------------------------------------------------------------
    flows = plant.flows(correlation_id=correlation_id)
    assert {f["flow_id"] for f in flows} >= {raised["flow_id"], completed["flow_id"], replenished["flow_id"]}
    records = {
        *ncs,
        capas[0]["capa_id"],
        request_id,
        wo["wo_id"],
        machine["asset_id"],
        run["order_id"],
        run["finished_lot"],
        spare["lot_id"],
        requisitions[0]["requisition_id"],
        *(t["txn_id"] for t in issues),
        *(c["posting_id"] for c in costs),
        *step(raised, "block_lots")["txn_ids"],
    }
    seen: dict[str, set[str]] = {}
    types: set[str] = set()
    for system in SYSTEMS:
        for event in events_of(plant, system):
            if event["subject"] in records or tag in msgspec.json.encode(event["data"]).decode():
                seen.setdefault(event["subject"], set()).add(event["correlationid"])
                types.add(event["type"])
    assert records <= set(seen), f"records without events: {records - set(seen)}"
    assert {c for ids in seen.values() for c in ids} == {correlation_id}
    assert {
        "qms.nonconformance.opened.v1",
        "qms.capa.opened.v1",
        "cmms.maintenance_request.submitted.v1",
        "mes.production_order.status_changed.v1",
        "erp.stock.status_changed.v1",
        "cmms.work_order.completed.v1",
        "erp.inventory_txn.posted.v1",
        "erp.cost.posted.v1",
        "cmms.asset.restored.v1",
        "erp.purchase_requisition.created.v1",
    } <= types
