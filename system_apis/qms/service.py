"""QMS use cases for inspection lots and the defect-code catalogue.

Each runs inside the request's transaction and stages its events there. Nonconformances,
supplier cases and CAPA have modules of their own beside this one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import qms as ev
from contracts.kit import core_records
from contracts.kit.acting import acting
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.problems import Conflict, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import (
    absent_or_409,
    announce,
    get_versioned,
    insert,
    list_page,
    lister,
    move,
    reader,
    to_row,
    to_wire,
)
from contracts.kit.unit_of_work import PRINCIPAL_KEY
from contracts.models import qms as m
from system_apis.qms import domain, views
from system_apis.qms import store as s
from system_apis.qms.lookups import SOURCE, equal

L = m.InspectionLotStatus


# --- inspection lots ----------------------------------------------------------------------------
async def create_inspection_lot(session: AsyncSession, data: m.InspectionLotCreate) -> m.InspectionLot:
    domain.check_specs([_spec(c) for c in data.characteristics])
    if data.source_ref:
        await _refuse_second_active_lot(session, data)
    row = to_row(
        s.InspectionLotRow,
        data,
        id=new_id("IL"),
        status=L.CREATED,
        result=m.LotResult.PENDING,
        stock_txn_ids=[],
        characteristics=[],
        results=[],
        decisions=[],
    )
    for position, c in enumerate(data.characteristics, start=1):
        row.characteristics.append(to_row(s.CharacteristicRow, c, position=position))
    await insert(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.InspectionLotCreated,
        inspection_lot_id=row.id,
        characteristics=[c.code for c in data.characteristics],
    )
    return views.inspection_lot(row)


async def _refuse_second_active_lot(session: AsyncSession, data: m.InspectionLotCreate) -> None:
    """One open inspection per source record and lot, so a redelivered event cannot start a twin."""
    existing = await session.scalar(
        select(s.InspectionLotRow.id).where(
            s.InspectionLotRow.origin == data.origin,
            s.InspectionLotRow.source_ref == data.source_ref,
            s.InspectionLotRow.lot_id == data.lot_id,
            s.InspectionLotRow.status.not_in([L.CLOSED, L.CANCELLED]),
        )
    )
    if existing:
        raise Conflict(
            f"inspection lot {existing} is open for {data.origin} {data.source_ref}, lot {data.lot_id}",
            slug="inspection-lot-exists",
            inspection_lot_id=existing,
        )


async def get_inspection_lot(session: AsyncSession, inspection_lot_id: str) -> m.InspectionLot:
    return views.inspection_lot(await _lot(session, inspection_lot_id))


async def list_inspection_lots(session: AsyncSession, q: PageQuery, **filters: Any) -> Page[m.InspectionLot]:
    where = equal(s.InspectionLotRow, filters)
    return await list_page(session, s.InspectionLotRow, views.inspection_lot, q, where=where)


async def start_inspection(
    session: AsyncSession, inspection_lot_id: str, data: m.TransitionNote, if_match: str | None
) -> m.InspectionLot:
    row = await _lot(session, inspection_lot_id, if_match)
    target = domain.INSPECTION_LOT.target(L(row.status), "start")
    return await _move_lot(session, row, "start", target, data.by, data.note)


async def record_results(
    session: AsyncSession, inspection_lot_id: str, data: m.ResultsRecord, if_match: str | None
) -> m.InspectionLot:
    # Still on the ORM: recorded before a flow starts, so not yet moved to core_records.
    row = await get_versioned(session, s.InspectionLotRow, inspection_lot_id, "inspection lot", if_match)
    domain.INSPECTION_LOT.target(L(row.status), "record_results")  # state first: a 409 names it
    specs = {c.code: _stored_spec(c) for c in row.characteristics}
    codes = [e.characteristic for e in data.results]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise Unprocessable(
            f"one result per characteristic: {', '.join(repeated)} repeat", slug="duplicate-result"
        )
    unknown = [c for c in codes if c not in specs]
    if unknown:
        raise Unprocessable(
            f"inspection lot {row.id} has no characteristic {', '.join(unknown)}",
            slug="unknown-characteristic",
            known=list(specs),
        )
    now = utcnow()
    current = {r.characteristic_code: r for r in row.results}
    for entry in data.results:
        measured, evaluation = domain.evaluate(
            specs[entry.characteristic],
            domain.Measurement(entry.value, entry.unit, entry.uncertainty, entry.conforming),
        )
        result = current.get(entry.characteristic)
        if result is None:
            result = s.ResultRow(characteristic_code=entry.characteristic)
            row.results.append(result)
        result.value, result.unit, result.uncertainty = measured.value, measured.unit, measured.uncertainty
        result.conforming, result.evaluation, result.note = measured.conforming, evaluation, entry.note
        result.recorded_by, result.recorded_at = data.recorded_by, now
    evaluations = {r.characteristic_code: m.Evaluation(r.evaluation) for r in row.results}
    row.result = domain.lot_result(evaluations.get(code) for code in specs)
    complete = all(code in evaluations for code in specs)
    row.status = domain.after_results(row.status, complete)
    row.touch()
    await session.flush()
    await announce(
        session,
        SOURCE,
        row,
        ev.ResultsRecorded,
        inspection_lot_id=row.id,
        complete=complete,
        failed_characteristics=views.failed_characteristics(row),
        results=[to_wire(r, ev.MeasuredResult, characteristic=r.characteristic_code) for r in row.results],
        recorded_by=data.recorded_by,
    )
    return views.inspection_lot(row)


async def make_usage_decision(
    session: AsyncSession, inspection_lot_id: str, data: m.UsageDecisionCreate, if_match: str | None
) -> m.InspectionLot:
    row = await _lot(session, inspection_lot_id, if_match)
    result = m.LotResult(row.result)
    row.status = domain.decide(row.status, result, data.disposition)
    previous = row.decisions[-1].disposition if row.decisions else None
    decision = to_row(
        s.DecisionRow, data, revision=len(row.decisions) + 1, lot_result=result, decided_at=utcnow()
    )
    row.decisions.append(decision)
    await core_records.save(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.UsageDecisionMade,
        inspection_lot_id=row.id,
        code=decision.code,
        disposition=decision.disposition,
        result=result,
        failed_characteristics=views.failed_characteristics(row),
        decided_by=decision.decided_by,
        decided_at=decision.decided_at,
        revision=decision.revision,
        previous_disposition=previous,
        decided_by_key=who.key() if (who := acting(session.info.get(PRINCIPAL_KEY))) else None,
    )
    return views.inspection_lot(row)


async def mark_stock_posted(
    session: AsyncSession, inspection_lot_id: str, data: m.StockPosted, if_match: str | None
) -> m.InspectionLot:
    row = await _lot(session, inspection_lot_id, if_match)
    target = domain.INSPECTION_LOT.target(L(row.status), "post_stock")
    row.stock_txn_ids = domain.unique(data.txn_ids)
    row.stock_posted_at = utcnow()
    row.stock_posted_quantity = round(data.quantity, 3) if data.quantity is not None else None
    return await _move_lot(session, row, "post_stock", target, data.posted_by, None)


async def close_inspection_lot(
    session: AsyncSession, inspection_lot_id: str, data: m.TransitionNote, if_match: str | None
) -> m.InspectionLot:
    row = await _lot(session, inspection_lot_id, if_match)
    target = domain.INSPECTION_LOT.target(L(row.status), "close")
    row.closed_at = utcnow()
    return await _move_lot(session, row, "close", target, data.by, data.note)


async def cancel_inspection_lot(
    session: AsyncSession, inspection_lot_id: str, data: m.Reason, if_match: str | None
) -> m.InspectionLot:
    row = await _lot(session, inspection_lot_id, if_match)
    target = domain.INSPECTION_LOT.target(L(row.status), "cancel")
    row.cancel_reason = data.reason
    return await _move_lot(session, row, "cancel", target, data.by, data.reason)


async def _lot(
    session: AsyncSession, inspection_lot_id: str, if_match: str | None = None
) -> s.InspectionLotRow:
    """The lot with its characteristics, results and decisions, read on Core (a flow reads and
    decides lots on its hot path); change it, then `core_records.save` it."""
    return await core_records.load(session, s.InspectionLotRow, inspection_lot_id, "inspection lot", if_match)


async def _move_lot(
    session: AsyncSession,
    row: s.InspectionLotRow,
    action: str,
    target: str,
    by: str | None,
    reason: str | None,
) -> m.InspectionLot:
    await move(
        session,
        SOURCE,
        row,
        ev.InspectionLotStatusChanged,
        target,
        action,
        save=core_records.save,
        inspection_lot_id=row.id,
        reason=reason,
        by=by,
        stock_txn_ids=list(row.stock_txn_ids),
    )
    return views.inspection_lot(row)


def _spec(c: m.CharacteristicCreate) -> domain.Spec:
    return domain.Spec(c.code, c.kind, c.min_value, c.max_value, c.unit)


def _stored_spec(c: s.CharacteristicRow) -> domain.Spec:
    return domain.Spec(c.code, m.CharacteristicKind(c.kind), c.min_value, c.max_value, c.unit)


# --- defect codes ---------------------------------------------------------------------------------
async def create_defect_code(session: AsyncSession, data: m.DefectCodeCreate) -> m.DefectCode:
    await absent_or_409(session, s.DefectCodeRow, data.code, "defect code")
    row = to_row(s.DefectCodeRow, data, id=data.code)
    await insert(session, row)
    return views.defect_code(row)


get_defect_code = reader(s.DefectCodeRow, "defect code", views.defect_code)


list_defect_codes = lister(s.DefectCodeRow, views.defect_code)
