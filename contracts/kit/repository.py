"""Small generic helpers over a service's own models: fetch-or-404 and keyset lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.paging import Page, PageQuery, keyset, page
from contracts.kit.problems import NotFound, Unprocessable
from contracts.kit.records import RecordMixin

R = TypeVar("R", bound=RecordMixin)
Out = TypeVar("Out")


async def get_or_404(
    session: AsyncSession, model: type[R], record_id: str, what: str, *, lock: bool = False
) -> R:
    row = await session.get(model, record_id, with_for_update=lock)
    if row is None:
        raise _not_found(what, record_id)
    return row


async def get_or_422(
    session: AsyncSession, model: type[R], record_id: str, what: str, *, lock: bool = False
) -> R:
    """For ids named inside a request body: the request is wrong, not the URL. `lock` takes the
    row for the rest of the transaction, so concurrent changes of one record queue instead of failing."""
    row = await session.get(model, record_id, with_for_update=lock)
    if row is None:
        raise _unknown(what, record_id)
    return row


async def exists_or_404(session: AsyncSession, model: type[R], record_id: str, what: str) -> None:
    """Like `get_or_404` for a caller that only needs to know the record is there: one indexed
    lookup, without loading the record and its eagerly loaded children."""
    if not await _exists(session, model, record_id):
        raise _not_found(what, record_id)


async def exists_or_422(session: AsyncSession, model: type[R], record_id: str, what: str) -> None:
    """Like `get_or_422` for a caller that only needs to know the record is there."""
    if not await _exists(session, model, record_id):
        raise _unknown(what, record_id)


async def _exists(session: AsyncSession, model: type[R], record_id: str) -> bool:
    return await session.scalar(select(model.id).where(model.id == record_id)) is not None


def _not_found(what: str, record_id: str) -> NotFound:
    return NotFound(f"{what} {record_id} does not exist", slug=f"{what.replace(' ', '-')}-not-found")


def _unknown(what: str, record_id: str) -> Unprocessable:
    return Unprocessable(f"{what} {record_id} does not exist", slug=f"unknown-{what.replace(' ', '-')}")


async def list_page(
    session: AsyncSession,
    model: type[R],
    convert: Callable[[R], Out],
    q: PageQuery,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page[Out]:
    query = keyset(
        select(model).where(*where),
        model.updated_at,
        model.id,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
    )
    rows: list[Any] = list((await session.scalars(query)).all())
    return page(rows, q.limit, convert)
