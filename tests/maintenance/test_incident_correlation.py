"""One business incident, one correlation id: a nonconformance on a machine, the maintenance it
calls for, and the repair reported days later by a technician's device under a correlation id of
its own, all run under the nonconformance's id; and each flow names the event that started it."""

from __future__ import annotations

import uuid
from typing import Any

from tests.maintenance.conftest import Plant, new_tag, ok, step


def event(plant: Plant, stream: str, event_type: str, subject: str) -> Any:
    found = [e for e in plant.platform.events(stream) if e.type == event_type and e.subject == subject]
    assert len(found) == 1, f"{event_type} {subject}: {len(found)} events"
    return found[0]


def test_nc_maintenance_and_completion_share_the_incidents_correlation_id(plant: Plant) -> None:
    tag = new_tag()
    incident, device = f"nc-found-{uuid.uuid4()}", f"tablet-{uuid.uuid4()}"
    found = plant.correlated(incident)
    technician = plant.correlated(device)
    try:
        machine = found.machine(tag)
        run = found.production(tag, machine)
        nc = found.nonconformance(machine, "critical", order_id=run["order_id"], lot_id=run["finished_lot"])
        raised = found.flow_done(nonconformance_id=nc["nc_id"], type="nc_maintenance")
        request_id = step(raised, "request_maintenance")["request_id"]
        # The planner and the technician work under their own correlation ids (their own requests).
        wo = technician.repair(request_id, parts=[])
        completed = found.flow_done(work_order_id=wo["wo_id"], type="work_order_completion")
    finally:
        found.close()
        technician.close()

    assert raised["correlation_id"] == incident
    assert completed["correlation_id"] == incident
    assert ok(plant.cmms.get(f"/cmms/v1/maintenance-requests/{request_id}"))["correlation_id"] == incident
    assert ok(plant.cmms.get(f"/cmms/v1/work-orders/{wo['wo_id']}"))["correlation_id"] == incident
    assert {f["flow_id"] for f in plant.flows(correlation_id=incident)} >= {
        raised["flow_id"],
        completed["flow_id"],
    }
    assert plant.flows(correlation_id=device) == []

    # Causation: each flow names the event that started it, and that event is the incident's too.
    opened = event(plant, "events.qms", "qms.nonconformance.opened.v1", nc["nc_id"])
    finished = event(plant, "events.cmms", "cmms.work_order.completed.v1", wo["wo_id"])
    assert (raised["causation_id"], raised["causation_type"]) == (opened.id, opened.type)
    assert (completed["causation_id"], completed["causation_type"]) == (finished.id, finished.type)
    assert finished.correlationid == incident
    # The completion's own writes name the event as their cause in the audit of the systems it calls.
    closing = ok(plant.cmms.get("/cmms/v1/audit", params={"causation_id": finished.id}))["items"]
    assert {(e["record_id"], e["correlation_id"]) for e in closing} >= {(wo["wo_id"], incident)}
