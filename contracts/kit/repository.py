"""The one records mechanism of the system APIs, generic over a service's own models: get or 404,
exists or 422, create or 409, versioned update (If-Match), keyset pages and deltas (`updated_since`),
row -> wire conversion by attribute name, and the events that announce a record's changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Executable, FromClause, Select, bindparam, inspect, select
from sqlalchemy.engine import Row as ResultRow
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from contracts.kit import outbox
from contracts.kit.core_records import find_all, load
from contracts.kit.core_records import not_found as not_found  # where the services take it from
from contracts.kit.paging import Page, PageQuery, check_if_match, keyset, page
from contracts.kit.problems import Conflict, Unprocessable
from contracts.kit.records import RecordMixin

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound=RecordMixin)
C = TypeVar("C", bound=RecordMixin)  # a record kept under another one (its downtime, its lines)
Out = TypeVar("Out")
W = TypeVar("W")
Row = TypeVar("Row")  # any mapped class: a record or one of its child rows


def to_wire(row: object, wire: type[W], **fields: Any) -> W:
    """A row as its wire type, field by attribute name (msgspec's `from_attributes`); `fields` gives
    what the row holds under another name (its id) or not at all (derived values such as the
    allowed actions). Timestamps come out aware because the columns are `UTCDateTime`."""
    return msgspec.convert(_Overlay(row, fields) if fields else row, wire, from_attributes=True)


def view_as(wire: type[W], id_name: str) -> Callable[[RecordMixin], W]:
    """The view of a record that is `to_wire` with nothing derived: the record's id under
    `id_name`, everything else by attribute name."""

    def view(row: RecordMixin) -> W:
        return to_wire(row, wire, **{id_name: row.id})

    return view


def to_row(model: type[Row], data: msgspec.Struct | DataclassInstance, **fields: Any) -> Row:
    """A new row from a create body (or a plan the domain made, a dataclass): each of its fields
    the model has a column of that name for, then `fields` (the id under its row name, the
    starting state, values the body only implies). Fields that need converting on the way in
    (money, JSON lists) are given in `fields`."""
    columns = inspect(model).columns.keys()
    names = data.__struct_fields__ if isinstance(data, msgspec.Struct) else _dataclass_fields(data)
    taken = {name: getattr(data, name) for name in names if name in columns}
    return model(**(taken | fields))


def _dataclass_fields(data: DataclassInstance) -> list[str]:
    return [field.name for field in dataclasses.fields(data)]


async def announce(
    session: AsyncSession,
    source: str,
    row: Any,
    event: type[msgspec.Struct],
    /,
    *,
    subject: str | None = None,
    correlation_id: str | None = None,
    **fields: Any,
) -> None:
    """Stage `event` about `row` (a stored record, or the wire type it was answered as) in the
    session's outbox: its fields by the row's attribute names, as `to_wire` takes them, with
    `fields` for what the row holds under another name or not at all. The event's subject is the
    row's id unless `subject` names another; `correlation_id` files it under the business
    incident the row belongs to (see `outbox.publish`)."""
    data = to_wire(row, event, **fields)
    await outbox.publish(session, source, subject or row.id, data, correlation_id=correlation_id)


async def move(
    session: AsyncSession,
    source: str,
    row: Any,
    event: type[msgspec.Struct],
    target: str,
    action: str,
    /,
    *,
    save: Callable[[AsyncSession, Any], Awaitable[None]] | None = None,
    **fields: Any,
) -> None:
    """Put `row` in status `target` by `action`, store it, and `announce` the move: the event's
    `from_status`, `to_status` and `action`, with `fields` as for `announce`. `save` stores the
    row (`core_records.save` for a record kept on the Core path); by default the session is
    flushed, so a refused write fails before the event is staged."""
    moved = {"from_status": row.status, "to_status": target, "action": action}
    row.status = target
    if save is None:
        await session.flush()
    else:
        await save(session, row)
    await announce(session, source, row, event, **moved, **fields)


class _Overlay:
    """A row seen with some attributes added or replaced, for `to_wire`."""

    __slots__ = ("_fields", "_row")

    def __init__(self, row: object, fields: dict[str, Any]) -> None:
        self._row = row
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        if name in self._fields:
            return self._fields[name]
        return getattr(self._row, name)


async def insert(session: AsyncSession, row: R) -> R:
    """Store a new record now rather than at commit, so a clash with a stored one fails here,
    before the events that announce it are staged."""
    session.add(row)
    await session.flush()
    return row


async def get_or_404(
    session: AsyncSession, model: type[R], record_id: str, what: str, *, lock: bool = False
) -> R:
    row = await session.get(model, record_id, with_for_update=lock)
    if row is None:
        raise not_found(what, record_id)
    return row


async def get_or_422(
    session: AsyncSession, model: type[R], record_id: str, what: str, *, lock: bool = False
) -> R:
    """For ids named inside a request body: the request is wrong, not the URL. `lock` takes the
    row for the rest of the transaction, so concurrent changes of one record queue instead of failing."""
    row = await session.get(model, record_id, with_for_update=lock)
    if row is None:
        raise unknown(what, record_id)
    return row


async def get_versioned(
    session: AsyncSession,
    model: type[R],
    record_id: str,
    what: str,
    if_match: str | None,
    *,
    lock: bool = False,
) -> R:
    """The record a change is about to be applied to: 404 when it is not there, 412 when the
    caller's If-Match names another version than the stored one."""
    row = await get_or_404(session, model, record_id, what, lock=lock)
    check_if_match(if_match, row.version)
    return row


def reader(
    model: type[R], what: str, view: Callable[[R], Out]
) -> Callable[[AsyncSession, str], Awaitable[Out]]:
    """The use case that answers one record by its id as `view` makes it (404 when it is not
    there). The record and its child rows are read on the Core path, as pages are (`find_all`):
    the ORM's `Session.get` cost several times the CPU of the whole rest of such a request."""

    async def read(session: AsyncSession, record_id: str) -> Out:
        return view(await load(session, model, record_id, what))

    return read


async def absent_or_409(session: AsyncSession, model: type[R], record_id: str, what: str) -> None:
    """Before creating a record under an id the caller chose: a second create is a 409."""
    if await _exists(session, model, record_id):
        raise Conflict(f"{what} {record_id} already exists", slug=f"{_slug(what)}-exists")


async def exists_or_404(session: AsyncSession, model: type[R], record_id: str, what: str) -> None:
    """Like `get_or_404` for a caller that only needs to know the record is there: one indexed
    lookup, without loading the record and its eagerly loaded children."""
    if not await _exists(session, model, record_id):
        raise not_found(what, record_id)


async def exists_or_422(session: AsyncSession, model: type[R], record_id: str, what: str) -> None:
    """Like `get_or_422` for a caller that only needs to know the record is there."""
    if not await _exists(session, model, record_id):
        raise unknown(what, record_id)


async def core_rows(
    session: AsyncSession, statement: Executable, params: dict[str, Any]
) -> list[ResultRow[Any]]:
    """The rows of one Core statement in the session's transaction, in one greenlet (an ORM query
    of the same costs several times its CPU), after writing what the session holds pending, as
    the ORM's query would (autoflush). Build `statement` once, with bound parameters."""
    found: list[ResultRow[Any]] = await session.run_sync(_core_rows, statement, params)
    return found


def _core_rows(session: Session, statement: Executable, params: dict[str, Any]) -> list[ResultRow[Any]]:
    session.flush()
    return list(session.connection().execute(statement, params).all())


async def _exists(session: AsyncSession, model: type[R], record_id: str) -> bool:
    return bool(await core_rows(session, _id_lookup(inspect(model).local_table), {"pk_id": record_id}))


@cache
def _id_lookup(table: FromClause) -> Select[Any]:
    return select(table.c.id).where(table.c.id == bindparam("pk_id"))


def unknown(what: str, record_id: str) -> Unprocessable:
    return Unprocessable(f"{what} {record_id} does not exist", slug=f"unknown-{_slug(what)}")


def _slug(what: str) -> str:
    return what.replace(" ", "-")


async def list_page(
    session: AsyncSession,
    model: type[R],
    convert: Callable[[R], Out],
    q: PageQuery,
    where: Sequence[ColumnElement[bool]] = (),
    **equal: Any,
) -> Page[Out]:
    """One keyset page of `model`, oldest change first, from `q.updated_since` on when given (a
    delta). `equal` names columns and the values a query asked for; an absent (None or empty)
    value does not filter."""
    table = inspect(model).local_table
    # Every named column is checked, asked for or not: a misspelt name fails on the first call,
    # not only when a request happens to carry that filter.
    if unknown := equal.keys() - table.c.keys():
        raise KeyError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    matching = [table.c[column] == value for column, value in equal.items() if value not in (None, "")]
    query = keyset(
        select(table).where(*where, *matching),
        table.c.updated_at,
        table.c.id,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
    )
    return page(await find_all(session, model, query), q.limit, convert)


def lister(model: type[R], view: Callable[[R], Out], **columns: str) -> Callable[..., Awaitable[Page[Out]]]:
    """The use case that answers one page of records as `view` makes them, filtered by the query's
    parameters by column name (absent ones do not filter): `list_page` with nothing of its own.
    `columns` names the column of a parameter that is called otherwise (a name Litestar keeps)."""

    async def list_(session: AsyncSession, q: PageQuery, **equal: Any) -> Page[Out]:
        by_column = {columns.get(name, name): value for name, value in equal.items()}
        return await list_page(session, model, view, q, **by_column)

    return list_


def lister_of(
    parent: type[R], what: str, model: type[C], view: Callable[[C], Out], key: str
) -> Callable[[AsyncSession, str, PageQuery], Awaitable[Page[Out]]]:
    """The use case that answers one page of the `model` records kept under a `parent` record
    (their `key` column names it) as `view` makes them; 404 when the parent is not there."""

    async def list_(session: AsyncSession, parent_id: str, q: PageQuery) -> Page[Out]:
        await exists_or_404(session, parent, parent_id, what)
        under: dict[str, Any] = {key: parent_id}
        return await list_page(session, model, view, q, **under)

    return list_
