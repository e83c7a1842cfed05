"""MES system API v1 (`/mes/v1`): the shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from contracts.models.common import Id, Input, LineNo, Location, Name, NonNegative, Output, Quantity, Uom


class ProductionOrderStatus(StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    RUNNING = "running"
    HELD = "held"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class OrderType(StrEnum):
    STANDARD = "standard"
    REWORK = "rework"  # reworks an existing lot (a quality disposition), keeping its lot id


class BatchQualityStatus(StrEnum):
    """What quality decided about a batch's lot; the quality process sets it."""

    PENDING = "pending"  # not decided yet (every batch starts here)
    RELEASED = "released"
    QUARANTINED = "quarantined"
    REWORK = "rework"
    SCRAPPED = "scrapped"  # final


class EquipmentState(StrEnum):
    RUNNING = "running"
    IDLE = "idle"
    DOWN = "down"
    # The machine's connection (an OPC UA session, a Sparkplug node) is lost: its state is unknown.
    DISCONNECTED = "disconnected"


# --- equipment ---------------------------------------------------------------------------------
class EquipmentCreate(Input, kw_only=True):
    equipment_id: Id
    description: Name
    work_centre: Id
    site: Id
    state: EquipmentState = EquipmentState.IDLE


class EquipmentStateChange(Input, kw_only=True):
    state: EquipmentState
    reason: Name | None = None
    order_id: Id | None = None
    # The machine's own alarm (code or text) behind a stop.
    alarm: Name | None = None
    # When the machine changed (its own clock, e.g. a Sparkplug or OPC UA source timestamp);
    # now when absent. Kept between the start of the current state and now, so periods never
    # run backwards or into the future.
    occurred_at: datetime | None = None


class Equipment(Output, kw_only=True):
    equipment_id: str
    description: str
    work_centre: str
    site: str
    state: EquipmentState
    state_since: datetime
    state_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    state_alarm: str | None = None


class EquipmentStateRecord(Output, kw_only=True):
    """One change of an equipment's state: its history, oldest first."""

    change_id: str
    equipment_id: str
    from_state: EquipmentState
    to_state: EquipmentState
    reason: str | None
    order_id: str | None
    changed_at: datetime  # when the equipment changed (the reported occurred_at), else when recorded
    version: int
    created_at: datetime
    updated_at: datetime
    alarm: str | None = None


class Downtime(Output, kw_only=True):
    """A period an equipment was down: opened when it went down, closed when it ran or idled again."""

    downtime_id: str
    equipment_id: str
    started_at: datetime
    ended_at: datetime | None  # null while the equipment is still down (or disconnected since)
    reason: str | None
    alarm: str | None
    order_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class EquipmentConfirmationCreate(Input, kw_only=True):
    """Quantities an equipment reports (e.g. its part counters): confirmed against the operation
    of the production order running on it."""

    good_quantity: NonNegative = 0.0
    scrap_quantity: NonNegative = 0.0
    scrap_reason: Name | None = None


# --- production orders ---------------------------------------------------------------------------
class OperationCreate(Input, kw_only=True):
    op_no: LineNo
    work_centre: Id
    description: Name | None = None
    equipment_id: Id | None = None


class ProductionOrderCreate(Input, kw_only=True):
    item_id: Id
    planned_quantity: Quantity
    site: Id
    operations: Annotated[list[OperationCreate], msgspec.Meta(min_length=1, max_length=100)]
    order_id: Id | None = None
    uom: Uom = "EA"
    lot_id: Id | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    order_type: OrderType = OrderType.STANDARD
    # A rework order names the lot it reworks and the quality record that asked for it.
    source_lot_id: Id | None = None
    quality_ref: Id | None = None


class Hold(Input, kw_only=True):
    """Why production stopped, e.g. the maintenance request raised for the machine."""

    reason: Name
    maintenance_request_id: Id | None = None
    nonconformance_id: Id | None = None


class Cancel(Input, kw_only=True):
    reason: Name | None = None


class Operation(Output, kw_only=True):
    op_no: int
    description: str | None
    work_centre: str
    equipment_id: str | None
    good_quantity: float
    scrap_quantity: float


class ProductionOrder(Output, kw_only=True):
    order_id: str
    item_id: str
    planned_quantity: float
    good_quantity: float
    scrap_quantity: float
    uom: str
    lot_id: str | None
    site: str
    status: ProductionOrderStatus
    hold_reason: str | None
    maintenance_request_id: str | None
    nonconformance_id: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    operations: list[Operation]
    allowed_actions: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    order_type: OrderType = OrderType.STANDARD
    source_lot_id: str | None = None
    quality_ref: str | None = None


# --- confirmations, batches, consumption ---------------------------------------------------------
class ConfirmationCreate(Input, kw_only=True):
    op_no: LineNo
    good_quantity: NonNegative = 0.0
    scrap_quantity: NonNegative = 0.0
    scrap_reason: Name | None = None
    equipment_id: Id | None = None
    person_id: Id | None = None


class Confirmation(Output, kw_only=True):
    confirmation_id: str
    order_id: str
    op_no: int
    work_centre: str
    equipment_id: str | None
    good_quantity: float
    scrap_quantity: float
    scrap_reason: str | None
    person_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class BatchCompletionCreate(Input, kw_only=True):
    quantity: Quantity
    lot_id: Id | None = None
    location: Location | None = None


class BatchCompletion(Output, kw_only=True):
    batch_id: str
    order_id: str
    item_id: str
    lot_id: str
    quantity: float
    uom: str
    location: str | None
    site: str
    version: int
    created_at: datetime
    updated_at: datetime
    quality_status: BatchQualityStatus = BatchQualityStatus.PENDING
    quality_reason: str | None = None
    quality_ref: str | None = None  # the usage decision or nonconformance that set the status


class BatchQualityChange(Input, kw_only=True):
    """Set by the quality process when quality decides about the batch's lot."""

    status: BatchQualityStatus
    reason: Name | None = None
    quality_ref: Id | None = None


class ConsumptionCreate(Input, kw_only=True):
    item_id: Id
    quantity: Quantity
    lot_id: Id | None = None
    uom: Uom = "EA"
    op_no: LineNo | None = None


class Consumption(Output, kw_only=True):
    """An input lot (or item) that went into an order: one edge of the genealogy."""

    consumption_id: str
    order_id: str
    op_no: int | None
    item_id: str
    lot_id: str | None
    quantity: float
    uom: str
    output_item_id: str
    site: str
    version: int
    created_at: datetime
    updated_at: datetime


# --- genealogy: where a lot went and where it came from ----------------------------------------------
class TraceDirection(StrEnum):
    WHERE_USED = "where_used"  # the orders that consumed the lot, the lots they made, and so on down
    WHERE_FROM = "where_from"  # the orders that made the lot, the lots they consumed, and so on up


class TracedLot(Output, kw_only=True):
    lot_id: str
    item_id: str
    quantity: float  # consumed by (inputs) or made by (outputs) this order
    uom: str


class TracedOrder(Output, kw_only=True):
    """One production order on the path: what went in, what came out, and how far from the lot."""

    order_id: str
    item_id: str
    status: str
    site: str
    depth: int  # 1: consumed (or made) the lot asked about; 2: the next order along; ...
    inputs: list[TracedLot]
    outputs: list[TracedLot]


class Genealogy(Output, kw_only=True):
    lot_id: str
    direction: TraceDirection
    max_depth: int
    orders: list[TracedOrder]  # nearest first
    truncated: bool  # more orders than max_orders lie within max_depth
