"""CMMS system API v1 (`/cmms/v1`): the shapes on the wire."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from contracts.kit.patterns import whole
from contracts.models.common import Currency, Id, Input, Location, Name, Output, Quantity, Text, Uom

# Cause, damage and correction codes from the plant's catalogue, e.g. `BRG-WEAR`, `REPLACE`.
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=whole(r"[A-Z0-9][A-Z0-9._\-]*"))]
Hours = Annotated[float, msgspec.Meta(gt=0, le=1000)]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=525_600)]
# An hourly rate: a non-negative decimal string, so no float rounding touches money.
Rate = Annotated[str, msgspec.Meta(pattern=whole(r"[0-9]{1,9}(\.[0-9]{1,4})?"), examples=["62.50"])]
PostingIds = Annotated[list[Id], msgspec.Meta(max_length=100)]


class Criticality(StrEnum):
    A = "A"  # production stops without it
    B = "B"
    C = "C"


class AssetStatus(StrEnum):
    IN_SERVICE = "in_service"
    DOWN = "down"
    UNDER_MAINTENANCE = "under_maintenance"
    RETIRED = "retired"


class MaintenanceType(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"
    CALIBRATION = "calibration"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EMERGENCY = "emergency"


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class WorkOrderStatus(StrEnum):
    CREATED = "created"
    RELEASED = "released"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    TECHNICALLY_COMPLETE = "technically_complete"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# --- assets ----------------------------------------------------------------------------------
class PlannedPart(Input, kw_only=True):
    """A spare part and how many a job on the asset takes (the asset's spare-parts list, or what
    the planner plans for one work order)."""

    item_id: Id
    quantity: Quantity
    uom: Uom = "EA"


PartList = Annotated[
    list[PlannedPart], msgspec.Meta(max_length=100, description="One line per item (an item once)")
]


class AssetCreate(Input, kw_only=True):
    asset_id: Id
    tag: Id
    description: Name
    site: Id
    serial: Name | None = None
    location: Location | None = None
    criticality: Criticality = Criticality.C
    cost_centre: Id | None = None
    spare_parts: PartList = msgspec.field(default_factory=list)


class AssetUpdate(Input, kw_only=True):
    tag: Id | None = None
    description: Name | None = None
    serial: Name | None = None
    location: Location | None = None
    criticality: Criticality | None = None
    cost_centre: Id | None = None
    spare_parts: PartList | None = None  # replaces the whole list


class AssetDown(Input, kw_only=True):
    reason: Name
    failure_time: datetime | None = None
    maintenance_request_id: Id | None = None
    work_order_id: Id | None = None


class AssetAction(Input, kw_only=True):
    note: Text | None = None
    work_order_id: Id | None = None


class SparePart(Output, kw_only=True):
    item_id: str
    quantity: float
    uom: str


class PartPlan(StrEnum):
    """Where a work order's planned parts came from."""

    PLANNER = "planner"  # given when the order was created or changed
    ASSET = "asset"  # copied from the asset's spare-parts list when the order was created


class Asset(Output, kw_only=True):
    asset_id: str
    tag: str
    serial: str | None
    description: str
    site: str
    location: str | None
    criticality: Criticality
    status: AssetStatus
    cost_centre: str | None
    allowed_actions: list[str]
    spare_parts: list[SparePart] = msgspec.field(default_factory=list)
    version: int
    created_at: datetime
    updated_at: datetime


class Downtime(Output, kw_only=True):
    """One stretch of time an asset was out of service (down or under maintenance)."""

    downtime_id: str
    asset_id: str
    started_at: datetime
    ended_at: datetime | None
    minutes: int | None
    reason: str | None
    maintenance_request_id: str | None
    work_order_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- maintenance requests ------------------------------------------------------------------------
class MaintenanceRequestCreate(Input, kw_only=True):
    asset_id: Id
    description: Name
    type: MaintenanceType = MaintenanceType.CORRECTIVE
    priority: Priority = Priority.MEDIUM
    details: Text | None = None
    site: Id | None = None
    nonconformance_id: Id | None = None
    production_order: Id | None = None
    requested_by: Id | None = None


class Reason(Input, kw_only=True):
    reason: Name


class OptionalReason(Input, kw_only=True):
    reason: Name | None = None


class MaintenanceRequest(Output, kw_only=True):
    request_id: str
    type: MaintenanceType
    priority: Priority
    description: str
    details: str | None
    asset_id: str
    site: str
    nonconformance_id: str | None
    production_order: str | None
    requested_by: str | None
    status: RequestStatus
    status_reason: str | None
    allowed_actions: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    # The business incident this request belongs to: the correlation id it was raised under. Its
    # work orders inherit it, and their events carry it, so the flows an incident sets off share it.
    correlation_id: str | None = None


# --- work orders -------------------------------------------------------------------------------
class WorkOrderCreate(Input, kw_only=True):
    """From a request (`request_id`; asset, type, texts and links default from it) or standalone."""

    request_id: Id | None = None
    asset_id: Id | None = None
    type: MaintenanceType | None = None
    priority: Priority | None = None
    description: Name | None = None
    assignee: Id | None = None
    site: Id | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    failure_time: datetime | None = None
    cost_centre: Id | None = None
    order_ref: Id | None = None
    production_order: Id | None = None
    nonconformance_id: Id | None = None
    # The parts the job will take; without them, the asset's spare-parts list is planned.
    planned_parts: PartList | None = None


class WorkOrderUpdate(Input, kw_only=True):
    description: Name | None = None
    priority: Priority | None = None
    assignee: Id | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    failure_time: datetime | None = None
    downtime_minutes: Minutes | None = None
    cause_code: Code | None = None
    correction_code: Code | None = None
    cost_centre: Id | None = None
    order_ref: Id | None = None
    planned_parts: PartList | None = None  # replaces the planned parts (then planned by the planner)


class WorkOrderComplete(Input, kw_only=True):
    """Technical completion; a corrective order needs its cause and correction codes by now."""

    actual_end: datetime | None = None
    failure_time: datetime | None = None
    downtime_minutes: Minutes | None = None
    cause_code: Code | None = None
    correction_code: Code | None = None
    note: Text | None = None


class CostsPosted(Input, kw_only=True):
    """Sent by the maintenance flow once ERP has the order's parts and costs."""

    reference: Id | None = None
    posting_ids: PostingIds = msgspec.field(default_factory=list)


class PartLineCreate(Input, kw_only=True):
    item_id: Id
    quantity: Quantity
    warehouse: Id
    uom: Uom = "EA"
    lot_id: Id | None = None
    location: Location | None = None


class LaborLineCreate(Input, kw_only=True):
    person_id: Id
    hours: Hours
    rate: Rate
    currency: Currency = "EUR"
    work_date: date | None = None


class PartLine(Output, kw_only=True):
    line_no: int
    item_id: str
    lot_id: str | None
    quantity: float
    uom: str
    warehouse: str
    location: str | None


class LaborLine(Output, kw_only=True):
    line_no: int
    person_id: str
    hours: float
    rate: str
    currency: str
    amount: str
    work_date: date | None


class WorkOrder(Output, kw_only=True):
    wo_id: str
    request_id: str | None
    asset_id: str
    type: MaintenanceType
    priority: Priority
    description: str
    status: WorkOrderStatus
    hold_reason: str | None
    assignee: str | None
    site: str
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    failure_time: datetime | None
    downtime_minutes: int | None
    cause_code: str | None
    correction_code: str | None
    cost_centre: str | None
    order_ref: str | None
    production_order: str | None
    nonconformance_id: str | None
    parts: list[PartLine]
    labor: list[LaborLine]
    costs_posted: bool
    cost_reference: str | None
    cost_posting_ids: list[str]
    allowed_actions: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    planned_parts: list[SparePart] = msgspec.field(default_factory=list)
    planned_parts_from: PartPlan | None = None  # None when nothing is planned
    correlation_id: str | None = None  # the incident it belongs to (see MaintenanceRequest)
