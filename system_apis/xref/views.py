"""Rows to wire shapes and to the domain's view of a mapping."""

from __future__ import annotations

from datetime import datetime

from contracts.kit.paging import as_utc
from contracts.models import xref as m
from system_apis.xref import domain
from system_apis.xref import store as s


def _instant(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def entity(row: s.EntityRow) -> m.Entity:
    return m.Entity(
        canonical_id=row.id,
        kind=m.Kind(row.kind),
        label=row.label,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def mapping(row: s.MappingRow) -> m.Mapping:
    return m.Mapping(
        mapping_id=row.id,
        canonical_id=row.canonical_id,
        kind=m.Kind(row.kind),
        system=m.System(row.system),
        system_id=row.system_id,
        valid_from=_instant(row.valid_from),
        valid_to=_instant(row.valid_to),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def claim(row: s.MappingRow) -> domain.Claim:
    return domain.Claim(
        mapping_id=row.id,
        kind=row.kind,
        canonical_id=row.canonical_id,
        system=row.system,
        system_id=row.system_id,
        validity=domain.Validity(_instant(row.valid_from), _instant(row.valid_to)),
    )


def system_ref(c: domain.Claim) -> m.SystemRef:
    return m.SystemRef(
        system=m.System(c.system),
        system_id=c.system_id,
        mapping_id=c.mapping_id,
        valid_from=c.validity.start,
        valid_to=c.validity.end,
    )
