"""Rows to wire shapes: by attribute name, with the id under its wire name and what is derived."""

from __future__ import annotations

from contracts.kit.repository import to_wire, view_as
from contracts.models import mes as m
from system_apis.mes import domain
from system_apis.mes import store as s

equipment = view_as(m.Equipment, "equipment_id")


def state_change(row: s.EquipmentStateChangeRow) -> m.EquipmentStateRecord:
    return to_wire(
        row, m.EquipmentStateRecord, change_id=row.id, changed_at=row.occurred_at or row.created_at
    )


downtime = view_as(m.Downtime, "downtime_id")


def production_order(row: s.ProductionOrderRow) -> m.ProductionOrder:
    actions = domain.PRODUCTION_ORDER.actions(m.ProductionOrderStatus(row.status))
    return to_wire(row, m.ProductionOrder, order_id=row.id, allowed_actions=actions)


confirmation = view_as(m.Confirmation, "confirmation_id")
batch = view_as(m.BatchCompletion, "batch_id")
consumption = view_as(m.Consumption, "consumption_id")
