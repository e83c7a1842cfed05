"""Helpers the QMS use cases share: checking named records exist, list filters, PATCH copies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, String, bindparam, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.problems import Unprocessable
from contracts.kit.repository import core_rows
from system_apis.qms import domain
from system_apis.qms import store as s

SOURCE = "/plantbridge/qms"


async def known_defect_codes(session: AsyncSession, codes: Sequence[str]) -> list[str]:
    """The codes, de-duplicated, once all are in the catalogue (else 422 naming the unknown)."""
    wanted = domain.unique(codes)
    if wanted:
        query = select(s.DefectCodeRow.id).where(s.DefectCodeRow.id.in_(wanted))
        found = set((await session.scalars(query)).all())
        unknown = [c for c in wanted if c not in found]
        if unknown:
            raise Unprocessable(
                f"defect codes not in the catalogue: {', '.join(unknown)}",
                slug="unknown-defect-code",
                unknown=unknown,
            )
    return wanted


async def known_ncs(session: AsyncSession, nc_ids: Sequence[str]) -> list[Row[Any]]:
    """The nonconformances' ids and suppliers, in the order named, once all exist (else 422
    naming the unknown). Plain rows: a use case that only links them needs no loaded records."""
    wanted = domain.unique(nc_ids)
    if not wanted:
        return []
    rows = {r.id: r for r in await core_rows(session, _NCS, {"ids": wanted})}
    unknown = [i for i in wanted if i not in rows]
    if unknown:
        raise Unprocessable(
            f"nonconformances do not exist: {', '.join(unknown)}",
            slug="unknown-nonconformance",
            unknown=unknown,
        )
    return [rows[i] for i in wanted]


_nonconformances = s.NonconformanceRow.__table__
_NCS = select(_nonconformances.c.id, _nonconformances.c.supplier_id).where(
    _nonconformances.c.id.in_(bindparam("ids", expanding=True))
)


def equal(model: Any, filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    """Equality filters from the query parameters that were given."""
    return [getattr(model, name) == value for name, value in filters.items() if value is not None]


def contains(column: Any, value: str | None) -> list[ColumnElement[bool]]:
    """Rows whose JSON id list holds `value`; a text match works the same on SQLite and PostgreSQL."""
    if value is None:
        return []
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [cast(column, String).like(f'%"{escaped}"%', escape="\\")]


def assign(row: Any, data: Any, fields: Sequence[str]) -> list[str]:
    """Copy the fields a PATCH gave (absent or null means unchanged); name those that changed."""
    changed = []
    for name in fields:
        value = getattr(data, name)
        if value is not None and value != getattr(row, name):
            setattr(row, name, value)
            changed.append(name)
    return changed


def set_list(row: Any, name: str, value: list[Any]) -> list[str]:
    """Replace a JSON list column (a new list, so the change is seen); name it if it changed."""
    if value == list(getattr(row, name)):
        return []
    setattr(row, name, value)
    return [name]
