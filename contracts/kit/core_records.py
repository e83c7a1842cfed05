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

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Column, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, RelationshipProperty, attributes, class_mapper
from sqlalchemy.orm.exc import StaleDataError

from contracts.kit import audit
from contracts.kit.paging import check_if_match, utcnow
from contracts.kit.records import RecordMixin
from contracts.kit.repository import not_found
from contracts.kit.wire.audit import AuditAction

R = TypeVar("R", bound=RecordMixin)


async def load(
    session: AsyncSession, model: type[R], record_id: str, what: str, if_match: str | None = None
) -> R:
    """The record with its child collections, detached: 404 when absent, 412 when `if_match`
    names another version."""
    mapper = class_mapper(model)
    found = (await session.execute(select(_table(mapper)).where(_table(mapper).c.id == record_id))).first()
    if found is None:
        raise not_found(what, record_id)
    row: R = _detached(mapper, found._mapping)
    check_if_match(if_match, row.version)
    for relation, foreign_key in _children(mapper):
        child = relation.mapper
        query = select(_table(child)).where(foreign_key == record_id)
        if relation.order_by:
            query = query.order_by(*relation.order_by)
        rows = (await session.execute(query)).all()
        attributes.set_committed_value(row, relation.key, [_detached(child, r._mapping) for r in rows])
    return row


async def save(session: AsyncSession, row: RecordMixin) -> None:
    """Write the changes made to a `load`ed record: its own columns by an UPDATE that only
    applies to the version read (else StaleDataError, a 409 like the ORM's), and the child rows
    appended to its collections by INSERTs. The record's version and `updated_at` move on."""
    mapper = class_mapper(type(row))
    state = attributes.instance_state(row)
    version = row.version
    values = {
        column.key: state.dict[key]
        for key, column in _columns(mapper)
        if state.attrs[key].history.has_changes() and key not in ("version", "updated_at")
    }
    row.version, row.updated_at = version + 1, utcnow()
    table = _table(mapper)
    values |= {"version": row.version, "updated_at": row.updated_at}
    changed = await session.execute(
        update(table).where(table.c.id == row.id, table.c.version == version).values(values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleDataError(f"{table.name} {row.id} is no longer at version {version}")
    new: list[Any] = []
    for relation, foreign_key in _children(mapper):
        for child in state.attrs[relation.key].history.added:
            child_mapper = class_mapper(type(child))
            setattr(child, child_mapper.get_property_by_column(foreign_key).key, row.id)
            given = attributes.instance_state(child).dict  # unset columns keep their defaults
            await session.execute(
                insert(_table(child_mapper)).values(
                    {column.key: given[key] for key, column in _columns(child_mapper) if key in given}
                )
            )
            new.append(child)
    for child in new:
        audit.note(session, child, AuditAction.CREATED)
    audit.note(session, row, AuditAction.UPDATED)
    for key, _column in _columns(mapper):  # what was written is now the committed state
        attributes.set_committed_value(row, key, state.dict.get(key))


def _detached(mapper: Mapper[Any], values: Any) -> Any:
    """An instance of the model holding `values` as its committed state (no pending changes)."""
    instance = mapper.class_manager.new_instance()
    for key, column in _columns(mapper):
        attributes.set_committed_value(instance, key, values[column])
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
