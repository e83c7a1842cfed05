"""CMMS use cases. Each runs inside the request's transaction and stages its events there."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import cmms as ev
from contracts.kit import correlation
from contracts.kit import repository as repo
from contracts.kit.inputs import kept_quantity, past_instant
from contracts.kit.paging import body_instant, check_window, utcnow
from contracts.kit.problems import Unprocessable
from contracts.kit.records import new_id
from contracts.kit.states import require_state
from contracts.models import cmms as m
from contracts.models import cmms_completion as completion
from system_apis.cmms import domain, views
from system_apis.cmms import store as s

SOURCE = "/plantbridge/cmms"


# --- assets -------------------------------------------------------------------------------------
async def create_asset(session: AsyncSession, data: m.AssetCreate) -> m.Asset:
    await repo.absent_or_409(session, s.AssetRow, data.asset_id, "asset")
    row = repo.to_row(
        s.AssetRow,
        data,
        id=data.asset_id,
        status=m.AssetStatus.IN_SERVICE,
        spare_parts=domain.part_list(data.spare_parts),
    )
    await repo.insert(session, row)
    return views.asset(row)


get_asset = repo.reader(s.AssetRow, "asset", views.asset)


list_assets = repo.lister(s.AssetRow, views.asset)


async def update_asset(
    session: AsyncSession, asset_id: str, data: m.AssetUpdate, if_match: str | None
) -> m.Asset:
    row = await repo.get_versioned(session, s.AssetRow, asset_id, "asset", if_match)
    require_state("asset", m.AssetStatus(row.status), domain.ASSET_EDITABLE, "change")
    for field in ("tag", "description", "serial", "location", "criticality", "cost_centre"):
        value = getattr(data, field)
        if value is not None:
            setattr(row, field, value)
    if data.spare_parts is not None:
        row.spare_parts = domain.part_list(data.spare_parts)
    row.touch()
    await session.flush()
    return views.asset(row)


async def change_asset(
    session: AsyncSession,
    asset_id: str,
    action: str,
    if_match: str | None,
    *,
    reason: str | None = None,
    failure_time: datetime | None = None,
    request_id: str | None = None,
    wo_id: str | None = None,
) -> m.Asset:
    """Apply one asset action; leaving service opens a downtime record, returning closes it."""
    row = await repo.get_versioned(session, s.AssetRow, asset_id, "asset", if_match)
    before = m.AssetStatus(row.status)
    after = domain.ASSET.target(before, action)
    if request_id:
        await repo.exists_or_422(session, s.MaintenanceRequestRow, request_id, "maintenance request")
    if wo_id:
        await repo.exists_or_422(session, s.WorkOrderRow, wo_id, "work order")
    now = utcnow()
    open_downtime = await _open_downtime(session, asset_id)
    if domain.opens_downtime(before, after):
        started = past_instant(failure_time, "failure_time") or now
        open_downtime = s.DowntimeRow(
            id=new_id("DT"),
            asset_id=asset_id,
            started_at=started,
            reason=reason,
            maintenance_request_id=request_id,
            work_order_id=wo_id,
        )
        session.add(open_downtime)
    elif open_downtime is not None and domain.closes_downtime(before, after):
        open_downtime.ended_at = now
        open_downtime.minutes = domain.minutes_between(open_downtime.started_at, now)
        open_downtime.work_order_id = open_downtime.work_order_id or wo_id
    await repo.move(
        session,
        SOURCE,
        row,
        ev.AssetStatusChanged,
        after,
        action,
        asset_id=asset_id,
        work_order_id=wo_id,
        subject=asset_id,
    )
    if after == m.AssetStatus.DOWN and open_downtime is not None:
        await repo.announce(
            session,
            SOURCE,
            open_downtime,
            ev.AssetDown,
            asset_id=asset_id,
            site=row.site,
            criticality=row.criticality,
            downtime_id=open_downtime.id,
            reason=reason or open_downtime.reason or "",
            subject=asset_id,
        )
    if after == m.AssetStatus.IN_SERVICE:
        await repo.announce(
            session,
            SOURCE,
            row,
            ev.AssetRestored,
            asset_id=asset_id,
            downtime_id=open_downtime.id if open_downtime else None,
            started_at=open_downtime.started_at if open_downtime else None,
            ended_at=now,
            minutes=open_downtime.minutes if open_downtime else None,
            work_order_id=wo_id,
            subject=asset_id,
        )
    return views.asset(row)


async def _open_downtime(session: AsyncSession, asset_id: str) -> s.DowntimeRow | None:
    found = await session.scalars(
        select(s.DowntimeRow)
        .where(s.DowntimeRow.asset_id == asset_id, s.DowntimeRow.ended_at.is_(None))
        .limit(1)
    )
    return found.first()


list_downtime = repo.lister_of(s.AssetRow, "asset", s.DowntimeRow, views.downtime, "asset_id")


# --- maintenance requests ------------------------------------------------------------------------
async def submit_request(session: AsyncSession, data: m.MaintenanceRequestCreate) -> m.MaintenanceRequest:
    asset = await repo.get_or_422(session, s.AssetRow, data.asset_id, "asset")
    if asset.status == m.AssetStatus.RETIRED:
        raise Unprocessable(f"asset {asset.id} is retired", slug="asset-retired")
    if data.site and data.site != asset.site:
        raise Unprocessable(
            f"asset {asset.id} is at site {asset.site}, not {data.site}", slug="site-mismatch"
        )
    row = repo.to_row(
        s.MaintenanceRequestRow,
        data,
        id=new_id("MR"),
        asset_id=asset.id,
        site=asset.site,
        status=m.RequestStatus.SUBMITTED,
        correlation_id=correlation.current().correlation_id or None,
    )
    await repo.insert(session, row)
    await repo.announce(
        session,
        SOURCE,
        row,
        ev.MaintenanceRequestSubmitted,
        request_id=row.id,
        correlation_id=row.correlation_id,
    )
    return views.request(row)


get_request = repo.reader(s.MaintenanceRequestRow, "maintenance request", views.request)


list_requests = repo.lister(s.MaintenanceRequestRow, views.request)


async def change_request(
    session: AsyncSession, request_id: str, action: str, if_match: str | None, reason: str | None = None
) -> m.MaintenanceRequest:
    row = await repo.get_versioned(
        session, s.MaintenanceRequestRow, request_id, "maintenance request", if_match
    )
    # By hand (the automatic moves are `_request_follows`); an illegal move is refused as such first.
    if action in ("complete", "cancel") and domain.REQUEST.can(m.RequestStatus(row.status), action):
        open_orders = await session.scalars(
            select(s.WorkOrderRow.id)
            .where(s.WorkOrderRow.request_id == row.id, s.WorkOrderRow.status.in_(domain.WORK_ORDER_OPEN))
            .order_by(s.WorkOrderRow.id)
        )
        domain.check_no_open_work(row.id, action, list(open_orders))
    await _move_request(session, row, action, reason)
    return views.request(row)


async def _move_request(
    session: AsyncSession, row: s.MaintenanceRequestRow, action: str, reason: str | None = None
) -> None:
    target = domain.REQUEST.target(m.RequestStatus(row.status), action)
    if reason is not None:
        row.status_reason = reason
    await repo.move(
        session,
        SOURCE,
        row,
        ev.MaintenanceRequestStatusChanged,
        target,
        action,
        request_id=row.id,
        reason=reason,
        correlation_id=row.correlation_id,
    )


# --- work orders ---------------------------------------------------------------------------------
async def create_work_order(session: AsyncSession, data: m.WorkOrderCreate) -> m.WorkOrder:
    request = (
        await repo.get_or_422(session, s.MaintenanceRequestRow, data.request_id, "maintenance request")
        if data.request_id
        else None
    )
    if request is not None:
        require_state(
            "maintenance request",
            m.RequestStatus(request.status),
            domain.REQUEST_OPEN_FOR_WORK,
            "plan a work order",
        )
        if data.asset_id and data.asset_id != request.asset_id:
            raise Unprocessable(
                f"request {request.id} is for asset {request.asset_id}, not {data.asset_id}",
                slug="asset-mismatch",
            )
    asset_id = data.asset_id or (request.asset_id if request else None)
    if asset_id is None:
        raise Unprocessable("a work order needs an asset_id or a request_id", slug="asset-required")
    asset = await repo.get_or_422(session, s.AssetRow, asset_id, "asset")
    if asset.status == m.AssetStatus.RETIRED:
        raise Unprocessable(f"asset {asset.id} is retired", slug="asset-retired")
    if data.site and data.site != asset.site:
        raise Unprocessable(
            f"asset {asset.id} is at site {asset.site}, not {data.site}", slug="site-mismatch"
        )
    description = data.description or (request.description if request else None)
    if description is None:
        raise Unprocessable("a work order without a request needs a description", slug="description-required")
    planned_start = body_instant(data.planned_start, "planned_start")
    planned_end = body_instant(data.planned_end, "planned_end")
    check_window(planned_start, planned_end)
    row = s.WorkOrderRow(
        id=new_id("WO"),
        request_id=request.id if request else None,
        asset_id=asset.id,
        type=data.type or (request.type if request else m.MaintenanceType.CORRECTIVE),
        priority=data.priority or (request.priority if request else m.Priority.MEDIUM),
        description=description,
        status=m.WorkOrderStatus.CREATED,
        assignee=data.assignee,
        site=asset.site,
        planned_start=planned_start,
        planned_end=planned_end,
        failure_time=body_instant(data.failure_time, "failure_time"),
        cost_centre=data.cost_centre or asset.cost_centre,
        order_ref=data.order_ref,
        production_order=data.production_order or (request.production_order if request else None),
        nonconformance_id=data.nonconformance_id or (request.nonconformance_id if request else None),
        costs_posted=False,
        cost_posting_ids=[],
        parts=[],
        labor=[],
        # The incident it belongs to: its request's, else the one it is planned under.
        correlation_id=(request.correlation_id if request else None)
        or correlation.current().correlation_id
        or None,
    )
    if data.planned_parts is not None:
        row.planned_parts, row.planned_parts_from = domain.part_list(data.planned_parts), m.PartPlan.PLANNER
    elif asset.spare_parts:
        row.planned_parts, row.planned_parts_from = list(asset.spare_parts), m.PartPlan.ASSET
    await repo.insert(session, row)
    await repo.announce(
        session, SOURCE, row, ev.WorkOrderCreated, wo_id=row.id, correlation_id=row.correlation_id
    )
    return views.work_order(row)


get_work_order = repo.reader(s.WorkOrderRow, "work order", views.work_order)


list_work_orders = repo.lister(s.WorkOrderRow, views.work_order)


async def update_work_order(
    session: AsyncSession, wo_id: str, data: m.WorkOrderUpdate, if_match: str | None
) -> m.WorkOrder:
    row = await _open_work_order(session, wo_id, if_match, "change")
    for field in (
        "description",
        "priority",
        "assignee",
        "downtime_minutes",
        "cause_code",
        "correction_code",
        "cost_centre",
        "order_ref",
    ):
        value = getattr(data, field)
        if value is not None:
            setattr(row, field, value)
    for field in ("planned_start", "planned_end", "failure_time"):
        value = body_instant(getattr(data, field), field)
        if value is not None:
            setattr(row, field, value)
    check_window(row.planned_start, row.planned_end)
    if data.planned_parts is not None:
        row.planned_parts, row.planned_parts_from = domain.part_list(data.planned_parts), m.PartPlan.PLANNER
    row.touch()
    await session.flush()
    return views.work_order(row)


async def add_part(
    session: AsyncSession, wo_id: str, data: m.PartLineCreate, if_match: str | None
) -> m.WorkOrder:
    row = await _open_work_order(session, wo_id, if_match, "record spare parts")
    line = repo.to_row(s.PartLineRow, data, line_no=len(row.parts) + 1, quantity=kept_quantity(data.quantity))
    row.parts.append(line)
    row.touch()
    await session.flush()
    return views.work_order(row)


async def add_labor(
    session: AsyncSession, wo_id: str, data: m.LaborLineCreate, if_match: str | None
) -> m.WorkOrder:
    row = await _open_work_order(session, wo_id, if_match, "record labor")
    row.labor.append(repo.to_row(s.LaborLineRow, data, line_no=len(row.labor) + 1, rate=Decimal(data.rate)))
    row.touch()
    await session.flush()
    return views.work_order(row)


async def _open_work_order(
    session: AsyncSession, wo_id: str, if_match: str | None, action: str
) -> s.WorkOrderRow:
    row = await repo.get_versioned(session, s.WorkOrderRow, wo_id, "work order", if_match)
    require_state("work order", m.WorkOrderStatus(row.status), domain.WORK_ORDER_OPEN, action)
    return row


async def change_work_order(
    session: AsyncSession,
    wo_id: str,
    action: str,
    if_match: str | None,
    *,
    reason: str | None = None,
    completion: m.WorkOrderComplete | None = None,
) -> m.WorkOrder:
    row = await repo.get_versioned(session, s.WorkOrderRow, wo_id, "work order", if_match)
    before = m.WorkOrderStatus(row.status)
    after = domain.WORK_ORDER.target(before, action)
    now = utcnow()
    if action == "start" and row.actual_start is None:
        row.actual_start = now
    elif action == "hold":
        row.hold_reason = reason
    elif action == "resume":
        row.hold_reason = None
    elif action == "complete":
        _apply_completion(row, completion or m.WorkOrderComplete(), now)
        row.hold_reason = None
    elif action == "close":
        domain.check_close(row.id, before, row.costs_posted)
    await repo.move(
        session,
        SOURCE,
        row,
        ev.WorkOrderStatusChanged,
        after,
        action,
        wo_id=row.id,
        reason=reason,
        correlation_id=row.correlation_id,
    )
    if action == "complete":
        await _publish_completed(session, row)
    await _request_follows(session, row, action)
    return views.work_order(row)


def _apply_completion(row: s.WorkOrderRow, data: m.WorkOrderComplete, now: datetime) -> None:
    # The rule is shared with the technician API, which checks it before recording the lines.
    done = completion.completed(row, data, now)
    row.cause_code, row.correction_code = done.cause_code, done.correction_code
    row.downtime_minutes = done.downtime_minutes
    row.failure_time, row.actual_end = done.failure_time, done.actual_end


async def _publish_completed(session: AsyncSession, row: s.WorkOrderRow) -> None:
    await repo.announce(
        session,
        SOURCE,
        row,
        ev.WorkOrderCompleted,
        wo_id=row.id,
        parts=[views.part_used(p) for p in row.parts],
        labor=[views.labor_used(u) for u in row.labor],
        correlation_id=row.correlation_id,
    )


async def _request_follows(session: AsyncSession, row: s.WorkOrderRow, action: str) -> None:
    """The request mirrors its work: in progress when work starts, complete when none is open."""
    if row.request_id is None or action not in ("start", "complete", "cancel"):
        return
    request = await session.get(s.MaintenanceRequestRow, row.request_id)
    assert request is not None  # a foreign key
    status = m.RequestStatus(request.status)
    follow: str | None
    if action == "start":
        follow = domain.request_follows_start(status)
    else:
        siblings = list(
            await session.scalars(
                select(s.WorkOrderRow.status).where(s.WorkOrderRow.request_id == request.id)
            )
        )
        follow = domain.request_follows_completion(status, [m.WorkOrderStatus(v) for v in siblings])
        if follow and action == "cancel" and all(v == m.WorkOrderStatus.CANCELLED for v in siblings):
            follow = None  # nothing was done: the request stays open for a new order
    if follow:
        await _move_request(session, request, follow, reason=f"work order {row.id}")


async def mark_costs_posted(
    session: AsyncSession, wo_id: str, data: m.CostsPosted, if_match: str | None
) -> m.WorkOrder:
    row = await repo.get_versioned(session, s.WorkOrderRow, wo_id, "work order", if_match)
    require_state(
        "work order",
        m.WorkOrderStatus(row.status),
        [m.WorkOrderStatus.TECHNICALLY_COMPLETE],
        "mark costs posted",
    )
    domain.check_costs_not_posted(row.id, row.costs_posted)
    row.costs_posted = True
    row.costs_posted_at = utcnow()
    row.cost_reference = data.reference
    row.cost_posting_ids = list(data.posting_ids)
    row.touch()
    await session.flush()
    return views.work_order(row)
