"""MES use cases. Each runs inside the request's transaction and stages its events there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import mes as ev
from contracts.kit import repository as repo
from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, PageQuery, body_instant, check_window, utcnow
from contracts.kit.problems import Conflict, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.states import require_state
from contracts.models import mes as m
from system_apis.mes import domain, views
from system_apis.mes import store as s

SOURCE = "/plantbridge/mes"


# --- equipment ---------------------------------------------------------------------------------
async def create_equipment(session: AsyncSession, data: m.EquipmentCreate) -> m.Equipment:
    await repo.absent_or_409(session, s.EquipmentRow, data.equipment_id, "equipment")
    row = repo.to_row(s.EquipmentRow, data, id=data.equipment_id, state_since=utcnow())
    await repo.insert(session, row)
    return views.equipment(row)


get_equipment = repo.reader(s.EquipmentRow, "equipment", views.equipment)


# `current_state` filters by the `state` column: Litestar keeps the name `state` for its own.
list_equipment = repo.lister(s.EquipmentRow, views.equipment, current_state="state")


async def change_equipment_state(
    session: AsyncSession, equipment_id: str, data: m.EquipmentStateChange, if_match: str | None
) -> m.Equipment:
    row = await repo.get_versioned(session, s.EquipmentRow, equipment_id, "equipment", if_match)
    before = m.EquipmentState(row.state)
    after = domain.EQUIPMENT.target(before, domain.ACTION_TO[data.state])
    if data.order_id:
        await repo.exists_or_422(session, s.ProductionOrderRow, data.order_id, "production order")
    now = utcnow()
    reported = body_instant(data.occurred_at, "occurred_at")
    occurred = min(max(reported, row.state_since), now) if reported else now
    change = repo.to_row(
        s.EquipmentStateChangeRow,
        data,
        id=new_id("EQS"),
        equipment_id=row.id,
        from_state=before,
        to_state=after,
        occurred_at=occurred,
    )
    session.add(change)
    downtime = await _follow_downtime(session, row.id, after, occurred, data)
    row.state, row.state_since, row.state_reason, row.state_alarm = after, occurred, data.reason, data.alarm
    await session.flush()
    await repo.announce(
        session,
        SOURCE,
        change,
        ev.EquipmentStateChanged,
        change_id=change.id,
        work_centre=row.work_centre,
        site=row.site,
        downtime_id=downtime.id if downtime else None,
        subject=row.id,
    )
    return views.equipment(row)


async def _follow_downtime(
    session: AsyncSession,
    equipment_id: str,
    after: m.EquipmentState,
    at: datetime,
    data: m.EquipmentStateChange,
) -> s.DowntimeRow | None:
    """Open a downtime period on a stop, close the open one when the equipment runs or idles."""
    d = s.DowntimeRow
    open_period = await session.scalar(
        select(d).where(d.equipment_id == equipment_id, d.ended_at.is_(None)).order_by(d.started_at.desc())
    )
    change = domain.downtime_change(after, open_period is not None)
    if change.closes and open_period is not None:
        open_period.ended_at = at
        return open_period
    if change.opens:
        period = d(
            id=new_id("DTM"),
            equipment_id=equipment_id,
            started_at=at,
            reason=data.reason,
            alarm=data.alarm,
            order_id=data.order_id,
        )
        session.add(period)
        return period
    return None


list_downtime = repo.lister_of(s.EquipmentRow, "equipment", s.DowntimeRow, views.downtime, "equipment_id")


async def confirm_on_equipment(
    session: AsyncSession, equipment_id: str, data: m.EquipmentConfirmationCreate
) -> m.Confirmation:
    """Quantities counted on a machine go to the operation of the order running on it."""
    await repo.exists_or_404(session, s.EquipmentRow, equipment_id, "equipment")
    o, p = s.OperationRow, s.ProductionOrderRow
    found = (
        await session.execute(
            select(o.order_id, o.op_no)
            .join(p, p.id == o.order_id)
            .where(o.equipment_id == equipment_id, p.status == m.ProductionOrderStatus.RUNNING)
            .order_by(p.actual_start, o.order_id, o.op_no)
            .limit(1)
        )
    ).first()
    if found is None:
        raise Conflict(
            f"no production order is running on equipment {equipment_id}; quantities cannot be confirmed",
            slug="no-running-order",
        )
    create = m.ConfirmationCreate(
        op_no=found.op_no,
        good_quantity=data.good_quantity,
        scrap_quantity=data.scrap_quantity,
        scrap_reason=data.scrap_reason,
        equipment_id=equipment_id,
    )
    return await confirm(session, found.order_id, create, None)


list_state_changes = repo.lister_of(
    s.EquipmentRow, "equipment", s.EquipmentStateChangeRow, views.state_change, "equipment_id"
)


# --- production orders ---------------------------------------------------------------------------
async def create_order(session: AsyncSession, data: m.ProductionOrderCreate) -> m.ProductionOrder:
    if data.order_id:
        await repo.absent_or_409(session, s.ProductionOrderRow, data.order_id, "production order")
    domain.check_operations([op.op_no for op in data.operations])
    domain.check_order_kind(data.order_type, data.source_lot_id)
    for op in data.operations:
        if op.equipment_id:
            await repo.exists_or_422(session, s.EquipmentRow, op.equipment_id, "equipment")
    planned_start = body_instant(data.planned_start, "planned_start")
    planned_end = body_instant(data.planned_end, "planned_end")
    check_window(planned_start, planned_end)
    row = repo.to_row(
        s.ProductionOrderRow,
        data,
        id=data.order_id or new_id("PRD"),
        good_quantity=0.0,
        scrap_quantity=0.0,
        status=m.ProductionOrderStatus.PLANNED,
        planned_start=planned_start,
        planned_end=planned_end,
        operations=[
            repo.to_row(s.OperationRow, op, good_quantity=0.0, scrap_quantity=0.0)
            for op in sorted(data.operations, key=lambda o: o.op_no)
        ],
    )
    await repo.insert(session, row)
    return views.production_order(row)


get_order = repo.reader(s.ProductionOrderRow, "production order", views.production_order)


async def list_orders(
    session: AsyncSession, q: PageQuery, equipment_id: str | None = None, **equal: Any
) -> Page[m.ProductionOrder]:
    """`equipment_id`: orders with an operation on that equipment; `equal`: the other filters by
    column name."""
    p = s.ProductionOrderRow
    on_equipment = select(s.OperationRow.order_id).where(s.OperationRow.equipment_id == equipment_id)
    where = [p.id.in_(on_equipment)] if equipment_id else []
    return await repo.list_page(session, p, views.production_order, q, where=where, **equal)


async def change_order(
    session: AsyncSession,
    order_id: str,
    action: str,
    if_match: str | None,
    *,
    reason: str | None = None,
    hold: m.Hold | None = None,
) -> m.ProductionOrder:
    row = await repo.get_versioned(session, s.ProductionOrderRow, order_id, "production order", if_match)
    after = domain.PRODUCTION_ORDER.target(m.ProductionOrderStatus(row.status), action)
    if action == "start" and row.actual_start is None:
        row.actual_start = utcnow()
    elif action == "hold" and hold is not None:
        reason = hold.reason
        row.hold_reason = hold.reason
        row.maintenance_request_id = hold.maintenance_request_id
        row.nonconformance_id = hold.nonconformance_id
    elif action in ("resume", "complete"):
        row.hold_reason = None
        if action == "complete":
            row.actual_end = utcnow()
    await repo.move(
        session,
        SOURCE,
        row,
        ev.ProductionOrderStatusChanged,
        after,
        action,
        order_id=row.id,
        equipment_ids=sorted({op.equipment_id for op in row.operations if op.equipment_id}),
        reason=reason,
        maintenance_request_id=row.maintenance_request_id if action == "hold" else None,
        nonconformance_id=row.nonconformance_id if action == "hold" else None,
    )
    return views.production_order(row)


async def _producing_order(
    session: AsyncSession, order_id: str, if_match: str | None, action: str
) -> s.ProductionOrderRow:
    row = await repo.get_versioned(session, s.ProductionOrderRow, order_id, "production order", if_match)
    require_state("production order", m.ProductionOrderStatus(row.status), domain.PRODUCING, action)
    return row


def _operation(row: s.ProductionOrderRow, op_no: int) -> s.OperationRow:
    for op in row.operations:
        if op.op_no == op_no:
            return op
    raise Unprocessable(f"production order {row.id} has no operation {op_no}", slug="unknown-operation")


# --- confirmations, batches, consumption ---------------------------------------------------------
async def confirm(
    session: AsyncSession, order_id: str, data: m.ConfirmationCreate, if_match: str | None
) -> m.Confirmation:
    row = await _producing_order(session, order_id, if_match, "confirm an operation")
    op = _operation(row, data.op_no)
    domain.check_confirmation(data.good_quantity, data.scrap_quantity)
    if data.equipment_id:
        await repo.exists_or_422(session, s.EquipmentRow, data.equipment_id, "equipment")
    op.good_quantity = round(op.good_quantity + data.good_quantity, 3)
    op.scrap_quantity = round(op.scrap_quantity + data.scrap_quantity, 3)
    row.good_quantity, row.scrap_quantity = domain.order_totals(
        domain.OperationQuantities(o.op_no, o.good_quantity, o.scrap_quantity) for o in row.operations
    )
    row.touch()
    confirmation = repo.to_row(
        s.ConfirmationRow,
        data,
        id=new_id("CNF"),
        order_id=row.id,
        op_no=op.op_no,
        work_centre=op.work_centre,
        equipment_id=data.equipment_id or op.equipment_id,
    )
    await repo.insert(session, confirmation)
    await repo.announce(
        session,
        SOURCE,
        confirmation,
        ev.OperationConfirmed,
        confirmation_id=confirmation.id,
        item_id=row.item_id,
        site=row.site,
        order_good_quantity=row.good_quantity,
        order_scrap_quantity=row.scrap_quantity,
        subject=row.id,
    )
    return views.confirmation(confirmation)


list_confirmations = repo.lister_of(
    s.ProductionOrderRow, "production order", s.ConfirmationRow, views.confirmation, "order_id"
)


async def complete_batch(
    session: AsyncSession, order_id: str, data: m.BatchCompletionCreate, if_match: str | None
) -> m.BatchCompletion:
    kept_quantity(data.quantity)  # ERP receives the batch from its event: it must be able to keep it
    row = await _producing_order(session, order_id, if_match, "complete a batch")
    lot_id = data.lot_id or row.lot_id or new_id("LOT")
    if row.lot_id is None:
        row.lot_id = lot_id  # the first batch names the order's output lot
        row.touch()
    batch = repo.to_row(
        s.BatchRow,
        data,
        id=new_id("BAT"),
        order_id=row.id,
        item_id=row.item_id,
        lot_id=lot_id,
        uom=row.uom,
        site=row.site,
    )
    await repo.insert(session, batch)
    await repo.announce(session, SOURCE, batch, ev.BatchCompleted, batch_id=batch.id, subject=row.id)
    return views.batch(batch)


async def list_batches(
    session: AsyncSession,
    q: PageQuery,
    order_id: str | None,
    lot_id: str | None,
    quality_status: m.BatchQualityStatus | None = None,
) -> Page[m.BatchCompletion]:
    b = s.BatchRow
    filters = ((b.order_id, order_id), (b.lot_id, lot_id), (b.quality_status, quality_status))
    where = [c == v for c, v in filters if v]
    return await repo.list_page(session, b, views.batch, q, where=where)


get_batch = repo.reader(s.BatchRow, "batch", views.batch)


async def set_batch_quality(
    session: AsyncSession, batch_id: str, data: m.BatchQualityChange, if_match: str | None
) -> m.BatchCompletion:
    """Record what quality decided about the batch's lot. Setting the status it already has
    changes nothing (a repeated decision, a reconciliation pass)."""
    row = await repo.get_versioned(session, s.BatchRow, batch_id, "batch", if_match, lock=True)
    before = m.BatchQualityStatus(row.quality_status)
    if before is data.status:
        return views.batch(row)
    domain.check_quality_change(before, data.status)
    row.quality_status, row.quality_reason, row.quality_ref = data.status, data.reason, data.quality_ref
    await session.flush()
    await repo.announce(
        session,
        SOURCE,
        row,
        ev.BatchQualityStatusChanged,
        batch_id=row.id,
        from_status=before,
        to_status=data.status,
        reason=data.reason,
        quality_ref=data.quality_ref,
    )
    return views.batch(row)


list_order_batches = repo.lister_of(
    s.ProductionOrderRow, "production order", s.BatchRow, views.batch, "order_id"
)


async def consume(
    session: AsyncSession, order_id: str, data: m.ConsumptionCreate, if_match: str | None
) -> m.Consumption:
    row = await _producing_order(session, order_id, if_match, "consume material")
    if data.op_no is not None:
        _operation(row, data.op_no)
    consumption = repo.to_row(
        s.ConsumptionRow, data, id=new_id("CON"), order_id=row.id, output_item_id=row.item_id, site=row.site
    )
    await repo.insert(session, consumption)
    await repo.announce(
        session, SOURCE, consumption, ev.MaterialConsumed, consumption_id=consumption.id, subject=row.id
    )
    return views.consumption(consumption)


async def list_consumptions(
    session: AsyncSession, q: PageQuery, order_id: str | None, lot_id: str | None, item_id: str | None
) -> Page[m.Consumption]:
    c = s.ConsumptionRow
    where = [col == v for col, v in ((c.order_id, order_id), (c.lot_id, lot_id), (c.item_id, item_id)) if v]
    return await repo.list_page(session, c, views.consumption, q, where=where)


list_order_consumptions = repo.lister_of(
    s.ProductionOrderRow, "production order", s.ConsumptionRow, views.consumption, "order_id"
)
