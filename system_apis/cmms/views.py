"""Rows to wire shapes (and to event payloads, which carry the same lines)."""

from __future__ import annotations

from decimal import Decimal

from contracts.events import cmms as ev
from contracts.kit.repository import to_wire, view_as
from contracts.models import cmms as m
from system_apis.cmms import domain
from system_apis.cmms import store as s


def decimal_text(value: Decimal) -> str:
    """`62.5`, `100`, never `1E+2`."""
    return format(Decimal(value).normalize(), "f")


def asset(row: s.AssetRow) -> m.Asset:
    actions = domain.ASSET.actions(m.AssetStatus(row.status))
    return to_wire(row, m.Asset, asset_id=row.id, spare_parts=row.spare_parts or [], allowed_actions=actions)


downtime = view_as(m.Downtime, "downtime_id")


def request(row: s.MaintenanceRequestRow) -> m.MaintenanceRequest:
    actions = domain.REQUEST.actions(m.RequestStatus(row.status))
    return to_wire(row, m.MaintenanceRequest, request_id=row.id, allowed_actions=actions)


def part_used(line: s.PartLineRow) -> ev.PartUsed:
    return to_wire(line, ev.PartUsed)


def labor_used(line: s.LaborLineRow) -> ev.LaborUsed:
    amount = domain.labor_amount(line.hours, Decimal(line.rate))
    return to_wire(line, ev.LaborUsed, rate=decimal_text(line.rate), amount=decimal_text(amount))


def work_order(row: s.WorkOrderRow) -> m.WorkOrder:
    return to_wire(
        row,
        m.WorkOrder,
        wo_id=row.id,
        labor=[labor_used(line) for line in row.labor],
        cost_posting_ids=row.cost_posting_ids or [],
        allowed_actions=domain.WORK_ORDER.actions(m.WorkOrderStatus(row.status)),
        planned_parts=row.planned_parts or [],
    )
