"""Records read and written on SQLAlchemy Core, for the flows' hot paths.

The ORM's unit of work (identity map, selectin loads of every child collection, flush with its
dependency sort) costs more CPU than the statements it issues. Here a record is read with its
child collections by one plain SELECT each and handed out as a detached instance of its model,
so the use case changes it as usual and the views convert it as usual; `save` then writes what
changed with one versioned UPDATE (and one INSERT per new child row), in the session's
transaction, and notes the audit entry the ORM recorder would have written for the same change.
Outbox events staged in the session commit with it as before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Column, Insert, Select, Table, Update, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, RelationshipProperty, Session, attributes, class_mapper
from sqlalchemy.orm.exc import StaleDataError

from contracts.kit import audit
from contracts.kit.paging import check_if_match, utcnow
from contracts.kit.problems import NotFound
from contracts.kit.records import RecordMixin
from contracts.kit.wire.audit import AuditAction

R = TypeVar("R", bound=RecordMixin)


async def load(
    session: AsyncSession, model: type[R], record_id: str, what: str, if_match: str | None = None
) -> R:
    """The record with its child collections, detached: 404 when absent, 412 when `if_match`
    names another version."""
    row = await find(session, model, record_id)
    if row is None:
        raise not_found(what, record_id)
    check_if_match(if_match, row.version)
    return row


async def find(session: AsyncSession, model: type[R], record_id: str, *, lock: bool = False) -> R | None:
    """The record with its child collections, detached, or None. `lock` takes the record's row
    for the rest of the transaction, so concurrent changes of it queue instead of failing."""
    found: R | None = await session.run_sync(_find, class_mapper(model), record_id, lock)
    return found


async def find_all(session: AsyncSession, model: type[R], query: Select[Any]) -> list[R]:
    """The records `query` selects (the columns of `model`'s table, filtered, ordered and limited
    as the caller needs), each with its child collections, detached: one SELECT for the records
    and one per collection for the children of all of them."""
    found: list[R] = await session.run_sync(_find_all, class_mapper(model), query)
    return found


# The statements of one read or write run in one greenlet (`run_sync`): each awaited statement
# would start a greenlet of its own, which costs more CPU than a short statement on SQLite. A
# read first writes what the session holds pending, as the ORM's own queries do (autoflush), so
# a use case that changed a record on the ORM and then reads it sees its change.
def _find(session: Session, mapper: Mapper[Any], record_id: str, lock: bool) -> Any:
    session.flush()
    db = session.connection()
    found = db.execute(_reads(mapper).locked if lock else _reads(mapper).record, {_ID: record_id}).first()
    if found is None:
        return None
    row = _detached(mapper, found._mapping)
    for (relation, _foreign_key), children in zip(_children(mapper), _reads(mapper).children, strict=True):
        rows = db.execute(children, {_ID: record_id}).all()
        attributes.set_committed_value(
            row, relation.key, [_detached(relation.mapper, r._mapping) for r in rows]
        )
    return row


def _find_all(session: Session, mapper: Mapper[Any], query: Select[Any]) -> list[Any]:
    session.flush()
    db = session.connection()
    rows = [_detached(mapper, found._mapping) for found in db.execute(query).all()]
    if not rows:
        return rows
    ids = [row.id for row in rows]
    for (relation, foreign_key), children in zip(
        _children(mapper), _reads(mapper).children_of_all, strict=True
    ):
        of: defaultdict[Any, list[Any]] = defaultdict(list)
        for child in db.execute(children, {_IDS: ids}).all():
            of[child._mapping[foreign_key]].append(_detached(relation.mapper, child._mapping))
        for row in rows:
            attributes.set_committed_value(row, relation.key, of[row.id])
    return rows


def not_found(what: str, record_id: str) -> NotFound:
    return NotFound(f"{what} {record_id} does not exist", slug=f"{what.replace(' ', '-')}-not-found")


async def add(session: AsyncSession, row: R) -> R:
    """Insert a new record (version 1) built as a plain model instance, noting its audit entry;
    it is then saved with `save` like a loaded one."""
    mapper = class_mapper(type(row))
    row.version = 1
    row.created_at = row.updated_at = utcnow()
    await session.run_sync(lambda sync: _insert(sync.connection(), mapper, row))
    audit.note(session, row, AuditAction.CREATED)
    _committed(mapper, row)
    return row


async def save(session: AsyncSession, row: RecordMixin) -> None:
    """Write the changes made to a `load`ed record: its own columns by an UPDATE that only
    applies to the version read (else StaleDataError, a 409 like the ORM's), and the child rows
    appended to its collections or changed in them by an INSERT or UPDATE each (removing a child
    is not supported). The record's version and `updated_at` move on."""
    mapper = class_mapper(type(row))
    state = attributes.instance_state(row)
    version = row.version
    row.version, row.updated_at = version + 1, utcnow()
    values = {
        column.key: state.dict[key]
        for key, column in _columns(mapper)
        if state.attrs[key].history.has_changes()
    }
    new, changed_children = await session.run_sync(_save, mapper, row, values, version)
    for child in new:
        audit.note(session, child, AuditAction.CREATED)
    for child in changed_children:
        audit.note(session, child, AuditAction.UPDATED)
    audit.note(session, row, AuditAction.UPDATED)
    for child in (*new, *changed_children):
        _committed(class_mapper(type(child)), child)
    _committed(mapper, row)


def _save(
    session: Session, mapper: Mapper[Any], row: Any, values: dict[str, Any], version: int
) -> tuple[list[Any], list[Any]]:
    """`save`'s statements: the record's UPDATE, then its new and changed child rows (those two)."""
    db = session.connection()
    changed = db.execute(_writes(mapper).update, {**values, _ID: row.id, _VERSION: version})
    if changed.rowcount != 1:
        raise StaleDataError(f"{_table(mapper).name} {row.id} is no longer at version {version}")
    state = attributes.instance_state(row)
    new: list[Any] = []
    changed_children: list[Any] = []
    for relation, foreign_key in _children(mapper):
        history = state.attrs[relation.key].history
        child_mapper = relation.mapper
        for child in history.added:
            setattr(child, child_mapper.get_property_by_column(foreign_key).key, row.id)
            _insert(db, child_mapper, child)
            new.append(child)
        for child in history.unchanged:
            if _update_child(db, child_mapper, child):
                changed_children.append(child)
    return new, changed_children


def _insert(db: Connection, mapper: Mapper[Any], row: Any) -> None:
    given = attributes.instance_state(row).dict  # unset columns keep their defaults
    values = {column.key: given[key] for key, column in _columns(mapper) if key in given}
    db.execute(_writes(mapper).insert, values)


def _update_child(db: Connection, mapper: Mapper[Any], child: Any) -> bool:
    """UPDATE a loaded child row's changed columns by its primary key; False if none changed."""
    state = attributes.instance_state(child)
    values = {
        column.key: state.dict[key]
        for key, column in _columns(mapper)
        if state.attrs[key].history.has_changes()
    }
    if not values:
        return False
    keys = {
        f"{_KEY}{column.key}": state.dict[mapper.get_property_by_column(column).key]
        for column in mapper.primary_key
    }
    db.execute(_writes(mapper).update, {**values, **keys})
    return True


def _committed(mapper: Mapper[Any], row: Any) -> None:
    """What was written is now the row's committed state, so a second `save` sees no change."""
    state = attributes.instance_state(row)
    for key, _column in _columns(mapper):
        attributes.set_committed_value(row, key, state.dict.get(key))
    for relation, _foreign_key in _children(mapper):
        attributes.set_committed_value(row, relation.key, list(state.dict.get(relation.key, ())))


# Bound parameter names that cannot clash with a column's (an UPDATE's SET clause takes its
# columns from the parameters' keys, its WHERE clause from these).
_ID, _IDS, _VERSION, _KEY = "pk_id", "pk_ids", "pk_version", "pk_"


@dataclass(frozen=True, slots=True)
class _Reads:
    record: Select[Any]
    locked: Select[Any]
    children: tuple[Select[Any], ...]
    children_of_all: tuple[Select[Any], ...]  # of the records whose ids are bound as a list


@dataclass(frozen=True, slots=True)
class _Writes:
    insert: Insert
    update: Update


# Statements are built once per model, so a request only binds values (their compiled forms are
# cached by the engine).
@cache
def _reads(mapper: Mapper[Any]) -> _Reads:
    table = _table(mapper)
    record = select(table).where(table.c.id == bindparam(_ID))
    children: list[Select[Any]] = []
    children_of_all: list[Select[Any]] = []
    for relation, foreign_key in _children(mapper):
        for where, built in (
            (foreign_key == bindparam(_ID), children),
            (foreign_key.in_(bindparam(_IDS, expanding=True)), children_of_all),
        ):
            query = select(_table(relation.mapper)).where(where)
            built.append(query.order_by(*relation.order_by) if relation.order_by else query)
    return _Reads(record, record.with_for_update(), tuple(children), tuple(children_of_all))


@cache
def _writes(mapper: Mapper[Any]) -> _Writes:
    table = _table(mapper)
    if issubclass(mapper.class_, RecordMixin):  # by id, at the version read
        where = [table.c.id == bindparam(_ID), table.c.version == bindparam(_VERSION)]
    else:  # a child row, by its primary key
        where = [c == bindparam(f"{_KEY}{c.key}") for c in mapper.primary_key]
    return _Writes(insert(table), update(table).where(*where))


def _detached(mapper: Mapper[Any], values: Any) -> Any:
    """An instance of the model holding `values` as its committed state (no pending changes)."""
    instance = mapper.class_manager.new_instance()
    # A new instance has no history: values placed in its dict are its committed state, as the
    # ORM's own loading places them (what set_committed_value per column would also leave).
    attributes.instance_dict(instance).update({key: values[column] for key, column in _columns(mapper)})
    return instance


@cache
def _table(mapper: Mapper[Any]) -> Table:
    table = mapper.local_table
    assert isinstance(table, Table)
    return table


@cache
def _columns(mapper: Mapper[Any]) -> tuple[tuple[str, Column[Any]], ...]:
    return tuple((attr.key, attr.columns[0]) for attr in mapper.column_attrs)  # type: ignore[misc]


@cache
def _children(mapper: Mapper[Any]) -> tuple[tuple[RelationshipProperty[Any], Column[Any]], ...]:
    """The record's one-to-many collections and the child column that points at the record."""
    found = []
    for relation in mapper.relationships:
        pairs = relation.local_remote_pairs or []
        if relation.uselist and len(pairs) == 1:
            found.append((relation, pairs[0][1]))
    return tuple(found)  # type: ignore[arg-type]
