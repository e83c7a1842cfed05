"""Supplier quality case (SCAR) use cases: open, change, issue, responses and their verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import qms as ev
from contracts.kit import core_records
from contracts.kit.documents import DocumentRow
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.problems import Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import announce, list_page, move, to_row
from contracts.models import qms as m
from system_apis.qms import domain, views
from system_apis.qms import store as s
from system_apis.qms.lookups import SOURCE, assign, contains, equal, known_ncs, set_list


async def create_supplier_case(session: AsyncSession, data: m.SupplierCaseCreate) -> m.SupplierCase:
    nc_ids = await _ncs_of_supplier(session, data.supplier_id, data.nc_ids)
    row = to_row(
        s.SupplierCaseRow,
        data,
        id=new_id("SCAR"),
        status=m.SupplierCaseStatus.OPEN,
        nc_ids=nc_ids,
        lot_ids=domain.unique(data.lot_ids),
        responses=[],
    )
    await core_records.add(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.SupplierCaseOpened,
        case_id=row.id,
        nc_ids=list(row.nc_ids),
        lot_ids=list(row.lot_ids),
    )
    return views.supplier_case(row)


async def update_supplier_case(
    session: AsyncSession, case_id: str, data: m.SupplierCaseUpdate, if_match: str | None
) -> m.SupplierCase:
    row = await _case(session, case_id, if_match)
    domain.refuse_if_frozen("supplier case", row.status, domain.FROZEN_CASE)
    changed = assign(row, data, ("title", "description", "po_id", "due_date"))
    if data.nc_ids is not None:
        changed += set_list(row, "nc_ids", await _ncs_of_supplier(session, row.supplier_id, data.nc_ids))
    if data.lot_ids is not None:
        changed += set_list(row, "lot_ids", domain.unique(data.lot_ids))
    if changed:
        await core_records.save(session, row)
    return views.supplier_case(row)


async def get_supplier_case(session: AsyncSession, case_id: str) -> m.SupplierCase:
    return views.supplier_case(await _case(session, case_id))


async def list_supplier_cases(
    session: AsyncSession, q: PageQuery, nc_id: str | None = None, **filters: Any
) -> Page[m.SupplierCase]:
    where = equal(s.SupplierCaseRow, filters) + contains(s.SupplierCaseRow.nc_ids, nc_id)
    return await list_page(session, s.SupplierCaseRow, views.supplier_case, q, where=where)


async def move_supplier_case(
    session: AsyncSession,
    case_id: str,
    action: str,
    if_match: str | None,
    *,
    by: str | None = None,
    reason: str | None = None,
    response: m.SupplierResponseCreate | None = None,
) -> m.SupplierCase:
    row = await _case(session, case_id, if_match)
    target = domain.SUPPLIER_CASE.target(m.SupplierCaseStatus(row.status), action)
    now = utcnow()
    responses = list(row.responses)
    if action == "issue":
        row.issued_at = now
    elif action == "respond" and response is not None:
        by = response.responded_by
        await _known_documents(session, response.attachments)
        answer = m.SupplierResponse(
            number=len(responses) + 1,
            containment=response.containment,
            root_cause=response.root_cause,
            corrective_action=response.corrective_action,
            responded_by=response.responded_by,
            responded_at=now,
            team=response.team,
            problem_description=response.problem_description,
            implementation=response.implementation,
            preventive_action=response.preventive_action,
            closure=response.closure,
            attachments=domain.unique(response.attachments),
        )
        responses.append(views.stored(answer))
    elif action in ("accept", "reject") and responses:
        verdict = m.Verdict.ACCEPTED if action == "accept" else m.Verdict.REJECTED
        judged = {"verdict": verdict, "verdict_reason": reason, "verdict_by": by, "verdict_at": now}
        responses[-1] = {**responses[-1], **views.stored(judged)}
    elif action == "close":
        row.closed_at = now
    elif action == "cancel":
        row.cancel_reason = reason
    row.responses = responses
    await move(
        session,
        SOURCE,
        row,
        ev.SupplierCaseStatusChanged,
        target,
        action,
        save=core_records.save,
        case_id=row.id,
        nc_ids=list(row.nc_ids),
        lot_ids=list(row.lot_ids),
        reason=reason,
        by=by,
    )
    return views.supplier_case(row)


async def _known_documents(session: AsyncSession, document_ids: Sequence[str]) -> None:
    """An answer attaches documents already uploaded (422 naming the ones that are not)."""
    if not document_ids:
        return
    known = set(await session.scalars(select(DocumentRow.id).where(DocumentRow.id.in_(document_ids))))
    unknown = sorted(set(document_ids) - known)
    if unknown:
        raise Unprocessable(
            f"documents {', '.join(unknown)} do not exist; upload them first",
            slug="unknown-document",
            document_ids=unknown,
        )


async def _case(session: AsyncSession, case_id: str, if_match: str | None = None) -> s.SupplierCaseRow:
    return await core_records.load(session, s.SupplierCaseRow, case_id, "supplier case", if_match)


async def _ncs_of_supplier(session: AsyncSession, supplier_id: str, nc_ids: Sequence[str]) -> list[str]:
    ncs = await known_ncs(session, nc_ids)
    foreign = [nc.id for nc in ncs if nc.supplier_id not in (None, supplier_id)]
    if foreign:
        raise Unprocessable(
            f"nonconformances {', '.join(foreign)} belong to another supplier",
            slug="nonconformance-of-other-supplier",
            nc_ids=foreign,
        )
    return [nc.id for nc in ncs]
