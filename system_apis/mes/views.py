"""Rows to wire shapes."""

from __future__ import annotations

from contracts.kit.paging import as_utc, maybe_utc
from contracts.models import mes as m
from system_apis.mes import domain
from system_apis.mes import store as s


def equipment(row: s.EquipmentRow) -> m.Equipment:
    return m.Equipment(
        equipment_id=row.id,
        description=row.description,
        work_centre=row.work_centre,
        site=row.site,
        state=m.EquipmentState(row.state),
        state_since=as_utc(row.state_since),
        state_reason=row.state_reason,
        state_alarm=row.state_alarm,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def state_change(row: s.EquipmentStateChangeRow) -> m.EquipmentStateRecord:
    return m.EquipmentStateRecord(
        change_id=row.id,
        equipment_id=row.equipment_id,
        from_state=m.EquipmentState(row.from_state),
        to_state=m.EquipmentState(row.to_state),
        reason=row.reason,
        order_id=row.order_id,
        changed_at=as_utc(row.occurred_at or row.created_at),
        alarm=row.alarm,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def downtime(row: s.DowntimeRow) -> m.Downtime:
    return m.Downtime(
        downtime_id=row.id,
        equipment_id=row.equipment_id,
        started_at=as_utc(row.started_at),
        ended_at=maybe_utc(row.ended_at),
        reason=row.reason,
        alarm=row.alarm,
        order_id=row.order_id,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def production_order(row: s.ProductionOrderRow) -> m.ProductionOrder:
    status = m.ProductionOrderStatus(row.status)
    return m.ProductionOrder(
        order_id=row.id,
        item_id=row.item_id,
        planned_quantity=row.planned_quantity,
        good_quantity=row.good_quantity,
        scrap_quantity=row.scrap_quantity,
        uom=row.uom,
        lot_id=row.lot_id,
        site=row.site,
        status=status,
        hold_reason=row.hold_reason,
        maintenance_request_id=row.maintenance_request_id,
        nonconformance_id=row.nonconformance_id,
        planned_start=maybe_utc(row.planned_start),
        planned_end=maybe_utc(row.planned_end),
        actual_start=maybe_utc(row.actual_start),
        actual_end=maybe_utc(row.actual_end),
        operations=[
            m.Operation(
                op_no=op.op_no,
                description=op.description,
                work_centre=op.work_centre,
                equipment_id=op.equipment_id,
                good_quantity=op.good_quantity,
                scrap_quantity=op.scrap_quantity,
            )
            for op in row.operations
        ],
        allowed_actions=domain.PRODUCTION_ORDER.actions(status),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def confirmation(row: s.ConfirmationRow) -> m.Confirmation:
    return m.Confirmation(
        confirmation_id=row.id,
        order_id=row.order_id,
        op_no=row.op_no,
        work_centre=row.work_centre,
        equipment_id=row.equipment_id,
        good_quantity=row.good_quantity,
        scrap_quantity=row.scrap_quantity,
        scrap_reason=row.scrap_reason,
        person_id=row.person_id,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def batch(row: s.BatchRow) -> m.BatchCompletion:
    return m.BatchCompletion(
        batch_id=row.id,
        order_id=row.order_id,
        item_id=row.item_id,
        lot_id=row.lot_id,
        quantity=row.quantity,
        uom=row.uom,
        location=row.location,
        site=row.site,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def consumption(row: s.ConsumptionRow) -> m.Consumption:
    return m.Consumption(
        consumption_id=row.id,
        order_id=row.order_id,
        op_no=row.op_no,
        item_id=row.item_id,
        lot_id=row.lot_id,
        quantity=row.quantity,
        uom=row.uom,
        output_item_id=row.output_item_id,
        site=row.site,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )
