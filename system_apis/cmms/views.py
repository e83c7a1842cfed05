"""Rows to wire shapes (and to event payloads, which carry the same lines)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.events import cmms as ev
from contracts.kit.paging import as_utc, maybe_utc
from contracts.models import cmms as m
from system_apis.cmms import domain
from system_apis.cmms import store as s


def decimal_text(value: Decimal) -> str:
    """`62.5`, `100`, never `1E+2`."""
    return format(Decimal(value).normalize(), "f")


def asset(row: s.AssetRow) -> m.Asset:
    status = m.AssetStatus(row.status)
    return m.Asset(
        asset_id=row.id,
        tag=row.tag,
        serial=row.serial,
        description=row.description,
        site=row.site,
        location=row.location,
        criticality=m.Criticality(row.criticality),
        status=status,
        cost_centre=row.cost_centre,
        spare_parts=_parts(row.spare_parts),
        allowed_actions=domain.ASSET.actions(status),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def downtime(row: s.DowntimeRow) -> m.Downtime:
    return m.Downtime(
        downtime_id=row.id,
        asset_id=row.asset_id,
        started_at=as_utc(row.started_at),
        ended_at=maybe_utc(row.ended_at),
        minutes=row.minutes,
        reason=row.reason,
        maintenance_request_id=row.maintenance_request_id,
        work_order_id=row.work_order_id,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def request(row: s.MaintenanceRequestRow) -> m.MaintenanceRequest:
    status = m.RequestStatus(row.status)
    return m.MaintenanceRequest(
        request_id=row.id,
        type=m.MaintenanceType(row.type),
        priority=m.Priority(row.priority),
        description=row.description,
        details=row.details,
        asset_id=row.asset_id,
        site=row.site,
        nonconformance_id=row.nonconformance_id,
        production_order=row.production_order,
        requested_by=row.requested_by,
        status=status,
        status_reason=row.status_reason,
        allowed_actions=domain.REQUEST.actions(status),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        correlation_id=row.correlation_id,
    )


def part_used(line: s.PartLineRow) -> ev.PartUsed:
    return ev.PartUsed(
        line_no=line.line_no,
        item_id=line.item_id,
        quantity=line.quantity,
        uom=line.uom,
        warehouse=line.warehouse,
        lot_id=line.lot_id,
        location=line.location,
    )


def labor_used(line: s.LaborLineRow) -> ev.LaborUsed:
    return ev.LaborUsed(
        line_no=line.line_no,
        person_id=line.person_id,
        hours=line.hours,
        rate=decimal_text(line.rate),
        currency=line.currency,
        amount=decimal_text(domain.labor_amount(line.hours, Decimal(line.rate))),
        work_date=line.work_date,
    )


def work_order(row: s.WorkOrderRow) -> m.WorkOrder:
    status = m.WorkOrderStatus(row.status)
    return m.WorkOrder(
        wo_id=row.id,
        request_id=row.request_id,
        asset_id=row.asset_id,
        type=m.MaintenanceType(row.type),
        priority=m.Priority(row.priority),
        description=row.description,
        status=status,
        hold_reason=row.hold_reason,
        assignee=row.assignee,
        site=row.site,
        planned_start=maybe_utc(row.planned_start),
        planned_end=maybe_utc(row.planned_end),
        actual_start=maybe_utc(row.actual_start),
        actual_end=maybe_utc(row.actual_end),
        failure_time=maybe_utc(row.failure_time),
        downtime_minutes=row.downtime_minutes,
        cause_code=row.cause_code,
        correction_code=row.correction_code,
        cost_centre=row.cost_centre,
        order_ref=row.order_ref,
        production_order=row.production_order,
        nonconformance_id=row.nonconformance_id,
        parts=[
            m.PartLine(
                line_no=p.line_no,
                item_id=p.item_id,
                lot_id=p.lot_id,
                quantity=p.quantity,
                uom=p.uom,
                warehouse=p.warehouse,
                location=p.location,
            )
            for p in row.parts
        ],
        labor=[
            m.LaborLine(
                line_no=u.line_no,
                person_id=u.person_id,
                hours=u.hours,
                rate=u.rate,
                currency=u.currency,
                amount=u.amount,
                work_date=u.work_date,
            )
            for u in map(labor_used, row.labor)
        ],
        costs_posted=row.costs_posted,
        cost_reference=row.cost_reference,
        cost_posting_ids=list(row.cost_posting_ids or []),
        allowed_actions=domain.WORK_ORDER.actions(status),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        planned_parts=_parts(row.planned_parts),
        planned_parts_from=m.PartPlan(row.planned_parts_from) if row.planned_parts_from else None,
        correlation_id=row.correlation_id,
    )


def _parts(stored: list[dict[str, Any]] | None) -> list[m.SparePart]:
    return [m.SparePart(item_id=p["item_id"], quantity=p["quantity"], uom=p["uom"]) for p in stored or []]
