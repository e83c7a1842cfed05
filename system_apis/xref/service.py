"""Registry use cases. Each runs inside the request's transaction and stages its events there."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import xref as ev
from contracts.kit.paging import body_instant, utcnow
from contracts.kit.problems import Conflict, NotFound
from contracts.kit.records import new_id
from contracts.kit.repository import (
    announce,
    get_or_422,
    get_versioned,
    insert,
    lister,
    reader,
    to_row,
)
from contracts.models import xref as m
from system_apis.xref import domain, views
from system_apis.xref import store as s

SOURCE = "/plantbridge/xref"


# --- canonical entities -----------------------------------------------------------------------
async def register_entity(session: AsyncSession, data: m.EntityCreate) -> m.Entity:
    canonical_id = data.canonical_id or f"urn:mfg:{data.kind}:{uuid.uuid4()}"
    if await session.get(s.EntityRow, canonical_id) is not None:
        raise Conflict(f"canonical id {canonical_id} is already registered", slug="entity-exists")
    row = s.EntityRow(id=canonical_id, kind=data.kind, label=data.label)
    await insert(session, row)
    await announce(session, SOURCE, row, ev.EntityRegistered, canonical_id=row.id)
    return views.entity(row)


get_entity = reader(s.EntityRow, "entity", views.entity)


list_entities = lister(s.EntityRow, views.entity)


# --- mappings ---------------------------------------------------------------------------------
async def register_mapping(session: AsyncSession, data: m.MappingCreate) -> m.Mapping:
    entity = await get_or_422(session, s.EntityRow, data.canonical_id, "entity")
    claim = domain.Claim(
        mapping_id=new_id("MAP"),
        kind=entity.kind,
        canonical_id=entity.id,
        system=data.system,
        system_id=data.system_id,
        validity=domain.validity(data.valid_from, data.valid_to),
    )
    await _check(session, claim)
    row = to_row(  # the period as the rules read it: in UTC
        s.MappingRow,
        data,
        id=claim.mapping_id,
        kind=claim.kind,
        valid_from=claim.validity.start,
        valid_to=claim.validity.end,
    )
    await insert(session, row)
    await announce(session, SOURCE, row, ev.MappingRegistered, mapping_id=row.id, subject=row.canonical_id)
    return views.mapping(row)


async def change_validity(
    session: AsyncSession, mapping_id: str, data: m.ValidityUpdate, if_match: str
) -> m.Mapping:
    # FOR UPDATE: a concurrent change of this mapping waits, then sees the new version (412).
    row = await get_versioned(session, s.MappingRow, mapping_id, "mapping", if_match, lock=True)
    before = views.claim(row)
    after = before.with_end(data.valid_to)
    if after.validity.end == before.validity.end:
        return views.mapping(row)
    await _check(session, after)
    row.valid_to = after.validity.end
    await session.flush()
    await announce(
        session,
        SOURCE,
        row,
        ev.MappingValidityChanged,
        mapping_id=row.id,
        valid_from=after.validity.start,
        valid_to=after.validity.end,
        previous_valid_to=before.validity.end,
        subject=row.canonical_id,
    )
    return views.mapping(row)


async def _check(session: AsyncSession, claim: domain.Claim) -> None:
    await s.lock_claims(session, claim.kind, claim.system, claim.system_id, claim.canonical_id)
    existing = await s.rivals(session, claim.kind, claim.system, claim.system_id, claim.canonical_id)
    domain.check_claim(claim, [views.claim(r) for r in existing])


get_mapping = reader(s.MappingRow, "mapping", views.mapping)


list_mappings = lister(s.MappingRow, views.mapping)


# --- lookups ----------------------------------------------------------------------------------
async def resolve(
    session: AsyncSession, kind: m.Kind, source: m.IdSpace, id_: str, to: m.System | None, at: datetime | None
) -> m.Resolution:
    """Translate `id_` (canonical or a system's) to the ids valid at `at` (default: now).
    Nothing is ever created here: an id the registry does not know is a 404."""
    moment = body_instant(at, "at") or utcnow()
    if source is m.IdSpace.CANONICAL:
        entity = await session.get(s.EntityRow, id_)
        if entity is None or entity.kind != kind:
            raise NotFound(f"no {kind} has canonical id {id_}", slug="entity-not-found")
        canonical_id = entity.id
    else:
        known = [views.claim(r) for r in await s.by_system_id(session, kind, source, id_)]
        if not known:
            raise NotFound(f"{source} {kind} id {id_} is not registered", slug="mapping-not-found")
        hits = domain.valid_at(known, moment)
        if not hits:
            periods = ", ".join(str(c.validity) for c in known)
            raise NotFound(
                f"{source} {kind} id {id_} maps to nothing at {moment.isoformat()} "
                f"(registered for {periods})",
                slug="mapping-not-found",
            )
        canonical_id = hits[0].canonical_id  # the rules allow exactly one
    ids = domain.valid_at([views.claim(r) for r in await s.by_canonical_id(session, canonical_id)], moment)
    if to is not None:
        ids = [c for c in ids if c.system == to]
        if not ids:
            raise NotFound(f"{canonical_id} has no {to} id at {moment.isoformat()}", slug="no-target-mapping")
    return m.Resolution(
        kind=kind, canonical_id=canonical_id, at=moment, ids=[views.system_ref(c) for c in ids]
    )
