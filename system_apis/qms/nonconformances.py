"""Nonconformance use cases: report, change, move through the state machine with its guards."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import qms as ev
from contracts.kit import core_records
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.records import new_id
from contracts.kit.repository import announce, exists_or_422, list_page, move, to_row, to_wire
from contracts.models import qms as m
from system_apis.qms import domain, views
from system_apis.qms import store as s
from system_apis.qms.lookups import SOURCE, assign, contains, equal, known_defect_codes, set_list

FIELDS = (
    "title",
    "severity",
    "description",
    "quantity_affected",
    "unit",
    "disposition",
    "action_plan",
    "effectiveness_note",
    "item_id",
    "lot_id",
    "supplier_id",
    "equipment_id",
    "production_order_id",
)


async def create_nonconformance(session: AsyncSession, data: m.NonconformanceCreate) -> m.Nonconformance:
    defect_codes = await known_defect_codes(session, data.defect_codes)
    if data.inspection_lot_id:
        await exists_or_422(session, s.InspectionLotRow, data.inspection_lot_id, "inspection lot")
    row = to_row(
        s.NonconformanceRow,
        data,
        id=new_id("NC"),
        status=m.NcStatus.OPEN,
        defect_codes=defect_codes,
        root_cause_codes=domain.unique(data.root_cause_codes),
        reopen_count=0,
    )
    await core_records.add(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.NonconformanceOpened,
        nc_id=row.id,
        defect_codes=list(row.defect_codes),
        links=_links(row),
    )
    return views.nonconformance(row)


async def update_nonconformance(
    session: AsyncSession, nc_id: str, data: m.NonconformanceUpdate, if_match: str | None
) -> m.Nonconformance:
    row = await _nc(session, nc_id, if_match)
    domain.refuse_if_frozen("nonconformance", row.status, domain.FROZEN_NC)
    changed = assign(row, data, FIELDS)
    if data.defect_codes is not None:
        changed += set_list(row, "defect_codes", await known_defect_codes(session, data.defect_codes))
    if data.root_cause_codes is not None:
        changed += set_list(row, "root_cause_codes", domain.unique(data.root_cause_codes))
    if changed:
        await core_records.save(session, row)
        await announce(
            session,
            SOURCE,
            row,
            ev.NonconformanceUpdated,
            nc_id=row.id,
            changed=changed,
            links=_links(row),
            defect_codes=list(row.defect_codes),
            root_cause_codes=list(row.root_cause_codes),
        )
    return views.nonconformance(row)


async def get_nonconformance(session: AsyncSession, nc_id: str) -> m.Nonconformance:
    return views.nonconformance(await _nc(session, nc_id))


async def list_nonconformances(
    session: AsyncSession, q: PageQuery, defect_code: str | None = None, **filters: Any
) -> Page[m.Nonconformance]:
    where = equal(s.NonconformanceRow, filters) + contains(s.NonconformanceRow.defect_codes, defect_code)
    return await list_page(session, s.NonconformanceRow, views.nonconformance, q, where=where)


async def move_nonconformance(
    session: AsyncSession,
    nc_id: str,
    action: str,
    if_match: str | None,
    *,
    by: str | None = None,
    reason: str | None = None,
    action_plan: str | None = None,
    effectiveness_note: str | None = None,
) -> m.Nonconformance:
    row = await _nc(session, nc_id, if_match)
    target = domain.nc_transition(
        row.status,
        action,
        action_plan=action_plan or row.action_plan,
        effectiveness_note=effectiveness_note or row.effectiveness_note,
    )
    if action_plan:
        row.action_plan = action_plan
    if effectiveness_note:
        row.effectiveness_note = effectiveness_note
    if target == m.NcStatus.CLOSED:
        row.closed_at = utcnow()
    elif action == "reopen":
        # The old evaluation proved wrong: closing again needs a new one.
        row.closed_at, row.effectiveness_note = None, None
        row.reopen_count += 1
    elif target == m.NcStatus.CANCELLED:
        row.cancel_reason = reason
    await move(
        session,
        SOURCE,
        row,
        ev.NonconformanceStatusChanged,
        target,
        action,
        save=core_records.save,
        nc_id=row.id,
        links=_links(row),
        reason=reason,
        by=by,
    )
    return views.nonconformance(row)


async def _nc(session: AsyncSession, nc_id: str, if_match: str | None = None) -> s.NonconformanceRow:
    return await core_records.load(session, s.NonconformanceRow, nc_id, "nonconformance", if_match)


def _links(row: s.NonconformanceRow) -> ev.NcLinks:
    return to_wire(row, ev.NcLinks)
