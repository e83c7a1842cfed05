"""CAPA use cases: create, change (actions, cause and correction codes), move, effectiveness checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import qms as ev
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.records import new_id
from contracts.kit.repository import announce, get_versioned, insert, list_page, move, to_row
from contracts.models import qms as m
from system_apis.qms import domain, views
from system_apis.qms import store as s
from system_apis.qms.lookups import SOURCE, assign, contains, equal, known_ncs, set_list


async def create_capa(session: AsyncSession, data: m.CapaCreate) -> m.Capa:
    ncs = await known_ncs(session, data.nc_ids)
    row = to_row(
        s.CapaRow,
        data,
        id=new_id("CAPA"),
        status=m.CapaStatus.DRAFT,
        nc_ids=[nc.id for nc in ncs],
        actions=_actions(data.actions),
        effectiveness_checks=[],
        cause_codes=domain.unique(data.cause_codes),
        correction_codes=domain.unique(data.correction_codes),
    )
    await insert(session, row)
    await announce(session, SOURCE, row, ev.CapaOpened, capa_id=row.id, nc_ids=list(row.nc_ids))
    return views.capa(row)


async def update_capa(
    session: AsyncSession, capa_id: str, data: m.CapaUpdate, if_match: str | None
) -> m.Capa:
    row = await _capa(session, capa_id, if_match)
    domain.refuse_if_frozen("capa", row.status, domain.FROZEN_CAPA)
    changed = assign(row, data, ("title", "owner", "description", "due_date"))
    if data.nc_ids is not None:
        changed += set_list(row, "nc_ids", [nc.id for nc in await known_ncs(session, data.nc_ids)])
    if data.actions is not None:
        changed += set_list(row, "actions", _actions(data.actions))
    for name in ("cause_codes", "correction_codes"):
        codes = getattr(data, name)
        if codes is not None:
            changed += set_list(row, name, domain.unique(codes))
    if changed:
        await session.flush()
        await announce(
            session,
            SOURCE,
            row,
            ev.CapaUpdated,
            capa_id=row.id,
            changed=changed,
            nc_ids=list(row.nc_ids),
            cause_codes=list(row.cause_codes),
            correction_codes=list(row.correction_codes),
        )
    return views.capa(row)


async def get_capa(session: AsyncSession, capa_id: str) -> m.Capa:
    return views.capa(await _capa(session, capa_id))


async def list_capas(
    session: AsyncSession, q: PageQuery, nc_id: str | None = None, **filters: Any
) -> Page[m.Capa]:
    where = equal(s.CapaRow, filters) + contains(s.CapaRow.nc_ids, nc_id)
    return await list_page(session, s.CapaRow, views.capa, q, where=where)


async def move_capa(
    session: AsyncSession,
    capa_id: str,
    action: str,
    if_match: str | None,
    *,
    by: str | None = None,
    reason: str | None = None,
    check: m.EffectivenessCheckInput | None = None,
) -> m.Capa:
    """`verify` and `reopen` come with an effectiveness check: effective, or not."""
    row = await _capa(session, capa_id, if_match)
    if check is not None:
        by, reason = check.by, check.note
    target = domain.capa_transition(row.status, action, actions_done=[bool(a["done"]) for a in row.actions])
    if check is not None:
        found = m.EffectivenessCheck(
            effective=action == "verify", note=check.note, checked_by=check.by, checked_at=utcnow()
        )
        row.effectiveness_checks = [*row.effectiveness_checks, views.stored(found)]
    if target == m.CapaStatus.CLOSED:
        row.closed_at = utcnow()
    elif target == m.CapaStatus.CANCELLED:
        row.cancel_reason = reason
    await move(
        session,
        SOURCE,
        row,
        ev.CapaStatusChanged,
        target,
        action,
        capa_id=row.id,
        nc_ids=list(row.nc_ids),
        reason=reason,
        by=by,
    )
    return views.capa(row)


async def _capa(session: AsyncSession, capa_id: str, if_match: str | None = None) -> s.CapaRow:
    return await get_versioned(session, s.CapaRow, capa_id, "capa", if_match)


def _actions(actions: Sequence[m.CapaActionInput]) -> list[Any]:
    return [
        views.stored(
            m.CapaAction(number=n, description=a.description, owner=a.owner, due_date=a.due_date, done=a.done)
        )
        for n, a in enumerate(actions, start=1)
    ]
