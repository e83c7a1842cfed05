"""Rows to wire shapes: by attribute name, with the id under its wire name and what is derived."""

from __future__ import annotations

from contracts.kit.repository import to_wire
from contracts.models import mes as m
from system_apis.mes import domain
from system_apis.mes import store as s


def equipment(row: s.EquipmentRow) -> m.Equipment:
    return to_wire(row, m.Equipment, equipment_id=row.id)


def state_change(row: s.EquipmentStateChangeRow) -> m.EquipmentStateRecord:
    return to_wire(
        row, m.EquipmentStateRecord, change_id=row.id, changed_at=row.occurred_at or row.created_at
    )


def downtime(row: s.DowntimeRow) -> m.Downtime:
    return to_wire(row, m.Downtime, downtime_id=row.id)


def production_order(row: s.ProductionOrderRow) -> m.ProductionOrder:
    actions = domain.PRODUCTION_ORDER.actions(m.ProductionOrderStatus(row.status))
    return to_wire(row, m.ProductionOrder, order_id=row.id, allowed_actions=actions)


def confirmation(row: s.ConfirmationRow) -> m.Confirmation:
    return to_wire(row, m.Confirmation, confirmation_id=row.id)


def batch(row: s.BatchRow) -> m.BatchCompletion:
    return to_wire(row, m.BatchCompletion, batch_id=row.id)


def consumption(row: s.ConsumptionRow) -> m.Consumption:
    return to_wire(row, m.Consumption, consumption_id=row.id)
