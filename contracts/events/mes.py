"""Events the MES system API publishes on `events.mes`."""

from __future__ import annotations

from datetime import datetime

import msgspec

from contracts.kit.envelope import event

STREAM = "events.mes"


@event(
    "mes.production_order.status_changed.v1", STREAM, "A production order changed status (hold carries why)."
)
class ProductionOrderStatusChanged(msgspec.Struct, kw_only=True):
    order_id: str
    item_id: str
    site: str
    from_status: str
    to_status: str
    action: str
    good_quantity: float
    scrap_quantity: float
    equipment_ids: list[str]
    lot_id: str | None = None
    reason: str | None = None
    maintenance_request_id: str | None = None
    nonconformance_id: str | None = None


@event("mes.operation.confirmed.v1", STREAM, "Good and scrap quantities were confirmed for an operation.")
class OperationConfirmed(msgspec.Struct, kw_only=True):
    confirmation_id: str
    order_id: str
    item_id: str
    site: str
    op_no: int
    work_centre: str
    good_quantity: float
    scrap_quantity: float
    order_good_quantity: float
    order_scrap_quantity: float
    equipment_id: str | None = None
    scrap_reason: str | None = None
    person_id: str | None = None


@event("mes.batch.completed.v1", STREAM, "A batch (output lot) of a production order was completed.")
class BatchCompleted(msgspec.Struct, kw_only=True):
    batch_id: str
    order_id: str
    item_id: str
    lot_id: str
    quantity: float
    uom: str
    site: str
    location: str | None = None


@event("mes.material.consumed.v1", STREAM, "An input lot or item went into a production order (genealogy).")
class MaterialConsumed(msgspec.Struct, kw_only=True):
    consumption_id: str
    order_id: str
    item_id: str
    quantity: float
    uom: str
    output_item_id: str
    site: str
    lot_id: str | None = None
    op_no: int | None = None


@event(
    "mes.equipment.state_changed.v1",
    STREAM,
    "An equipment moved between running, idle, down and disconnected; a stop opens a downtime "
    "period (downtime_id), running or idle again closes it.",
)
class EquipmentStateChanged(msgspec.Struct, kw_only=True):
    change_id: str
    equipment_id: str
    work_centre: str
    site: str
    from_state: str
    to_state: str
    reason: str | None = None
    order_id: str | None = None
    alarm: str | None = None
    occurred_at: datetime | None = None  # when the equipment changed, by its own clock
    downtime_id: str | None = None  # the stop this change opened or closed
