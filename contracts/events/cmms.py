"""Events the CMMS system API publishes on `events.cmms`."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from contracts.kit.envelope import event

STREAM = "events.cmms"


@event("cmms.asset.down.v1", STREAM, "An asset stopped (breakdown); a downtime record is open.")
class AssetDown(msgspec.Struct, kw_only=True):
    asset_id: str
    site: str
    criticality: str
    downtime_id: str
    started_at: datetime
    reason: str
    maintenance_request_id: str | None = None
    work_order_id: str | None = None


@event("cmms.asset.restored.v1", STREAM, "An asset is back in service; its downtime record is closed.")
class AssetRestored(msgspec.Struct, kw_only=True):
    asset_id: str
    site: str
    downtime_id: str | None
    started_at: datetime | None
    ended_at: datetime
    minutes: int | None
    work_order_id: str | None = None


@event(
    "cmms.asset.status_changed.v1",
    STREAM,
    "An asset moved between in_service, down, under_maintenance, retired.",
)
class AssetStatusChanged(msgspec.Struct, kw_only=True):
    asset_id: str
    site: str
    from_status: str
    to_status: str
    action: str
    work_order_id: str | None = None


@event("cmms.maintenance_request.submitted.v1", STREAM, "A maintenance request was submitted for an asset.")
class MaintenanceRequestSubmitted(msgspec.Struct, kw_only=True):
    request_id: str
    type: str
    priority: str
    asset_id: str
    site: str
    description: str
    nonconformance_id: str | None = None
    production_order: str | None = None
    requested_by: str | None = None


@event("cmms.maintenance_request.status_changed.v1", STREAM, "A maintenance request changed status.")
class MaintenanceRequestStatusChanged(msgspec.Struct, kw_only=True):
    request_id: str
    asset_id: str
    site: str
    from_status: str
    to_status: str
    action: str
    reason: str | None = None
    nonconformance_id: str | None = None
    production_order: str | None = None


@event("cmms.work_order.created.v1", STREAM, "A maintenance work order was created.")
class WorkOrderCreated(msgspec.Struct, kw_only=True):
    wo_id: str
    asset_id: str
    site: str
    type: str
    priority: str
    request_id: str | None = None
    assignee: str | None = None
    cost_centre: str | None = None
    order_ref: str | None = None
    production_order: str | None = None
    nonconformance_id: str | None = None


@event("cmms.work_order.status_changed.v1", STREAM, "A work order changed status.")
class WorkOrderStatusChanged(msgspec.Struct, kw_only=True):
    wo_id: str
    asset_id: str
    site: str
    from_status: str
    to_status: str
    action: str
    reason: str | None = None
    assignee: str | None = None
    request_id: str | None = None


class PartUsed(msgspec.Struct, kw_only=True):
    line_no: int
    item_id: str
    quantity: float
    uom: str
    warehouse: str
    lot_id: str | None = None
    location: str | None = None


class LaborUsed(msgspec.Struct, kw_only=True):
    line_no: int
    person_id: str
    hours: float
    rate: str  # decimal string
    currency: str
    amount: str  # hours x rate, decimal string
    work_date: date | None = None


@event(
    "cmms.work_order.completed.v1",
    STREAM,
    "A work order is technically complete: the parts and labor to post, codes, asset and order references.",
)
class WorkOrderCompleted(msgspec.Struct, kw_only=True):
    wo_id: str
    asset_id: str
    site: str
    type: str
    parts: list[PartUsed]
    labor: list[LaborUsed]
    request_id: str | None = None
    cost_centre: str | None = None
    order_ref: str | None = None
    production_order: str | None = None
    nonconformance_id: str | None = None
    cause_code: str | None = None
    correction_code: str | None = None
    failure_time: datetime | None = None
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    downtime_minutes: int | None = None
