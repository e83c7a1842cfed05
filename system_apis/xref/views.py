"""Rows to wire shapes and to the domain's view of a mapping."""

from __future__ import annotations

from contracts.kit.repository import to_wire
from contracts.models import xref as m
from system_apis.xref import domain
from system_apis.xref import store as s


def entity(row: s.EntityRow) -> m.Entity:
    return to_wire(row, m.Entity, canonical_id=row.id)


def mapping(row: s.MappingRow) -> m.Mapping:
    return to_wire(row, m.Mapping, mapping_id=row.id)


def claim(row: s.MappingRow) -> domain.Claim:
    return domain.Claim(
        mapping_id=row.id,
        kind=row.kind,
        canonical_id=row.canonical_id,
        system=row.system,
        system_id=row.system_id,
        validity=domain.Validity(row.valid_from, row.valid_to),
    )


def system_ref(c: domain.Claim) -> m.SystemRef:
    return m.SystemRef(
        system=m.System(c.system),
        system_id=c.system_id,
        mapping_id=c.mapping_id,
        valid_from=c.validity.start,
        valid_to=c.validity.end,
    )
