"""Rows to wire shapes and to the domain's view of a mapping."""

from __future__ import annotations

from contracts.kit.repository import view_as
from contracts.models import xref as m
from system_apis.xref import domain
from system_apis.xref import store as s

entity = view_as(m.Entity, "canonical_id")
mapping = view_as(m.Mapping, "mapping_id")


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
