"""The audit trail: every change to a service's records, recorded once, in the same transaction.

A service opts in by migrating `audit_metadata` with its own tables (`ServiceSpec.metadata`);
the app factory then installs the recorder on the service's database and mounts
`GET <api>/audit` on each of its API versions. There is no write path: entries are only ever
inserted by the recorder, and the database itself refuses UPDATE and DELETE on `kit_audit`
(triggers made by `append_only_ddl`, created by the kit's `kernel_audit` migration branch).

What is recorded, per record and transaction:
- what: the record (its table and id), created/updated/deleted, the record's version after the
  change, and the changed fields as `{field: {before, after}}`. Rows without an id of their own
  (PO lines, stock balances, inspection results) are folded into their parent record as
  `<relationship>[<key>].<field>`, so a lot's history shows its balance moves.
- who: the OAuth2 client of the request (with the person and supplier its token names), or
  `consumer:<group>` for an event handler, or `system`. When a platform client acts for someone
  (an experience API for a technician or a supplier, contracts/kit/acting.py), that someone, with
  the platform client as `via`: "P-1042 (tablet-017) via technician-experience".
- why: the correlation id, the flow id and causing event id (`X-Flow-ID`, `X-Causation-ID`,
  sent by flow steps through `contracts/kit/correlation.py`).
- when: the time of the flush that wrote the change.

A request that fails (4xx, 5xx) rolls back its audit entries with its changes, and an
idempotent replay changes nothing, so it records nothing.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    event,
    inspect,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, RelationshipDirection, Session, UOWTransaction

from contracts.kit import correlation
from contracts.kit.acting import acting
from contracts.kit.db import Database
from contracts.kit.paging import DB_INT_MAX, Page, Paged, PageQuery, as_utc, invalid_cursor, utcnow
from contracts.kit.patterns import whole
from contracts.kit.records import RecordMixin, new_id
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import PRINCIPAL_KEY
from contracts.kit.unit_of_work import Session as RequestSession
from contracts.kit.wire import ID_MAX, ID_PATTERN
from contracts.kit.wire.audit import AuditAction, AuditActor, AuditEntry, FieldChange

audit_metadata = MetaData()

_seq = BigInteger().with_variant(Integer(), "sqlite")  # the rowid alias on SQLite

audit_log = Table(
    "kit_audit",
    audit_metadata,
    Column("seq", _seq, primary_key=True, autoincrement=True),  # insertion order, for paging
    Column("audit_id", String(64), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("record_type", String(100), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("action", String(10), nullable=False),
    Column("version", Integer, nullable=True),
    Column("changes", JSON, nullable=False),
    Column("actor_client_id", String(200), nullable=False),
    Column("actor_person_id", String(200), nullable=True),
    Column("actor_supplier_id", String(200), nullable=True),
    Column("actor_via", String(200), nullable=True),  # the platform client that acted for the actor
    Column("correlation_id", String(128), nullable=True),
    Column("flow_id", String(128), nullable=True),
    Column("causation_id", String(128), nullable=True),
)
Index("ix_kit_audit_record", audit_log.c.record_id, audit_log.c.seq)
Index("ix_kit_audit_correlation", audit_log.c.correlation_id, audit_log.c.seq)
Index("ix_kit_audit_flow", audit_log.c.flow_id, audit_log.c.seq)

# Bookkeeping every record has; a change to it alone is no change of the record's state.
_BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at"})
_PENDING = "pb.audit.pending"
_INSERT = audit_log.insert()
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts when no request does (an event consumer, a job); a request's Principal has the
    same three attributes and is used as is."""

    client_id: str
    person_id: str | None = None
    supplier_id: str | None = None


def acting_as(session: Any, actor: Actor) -> None:
    """Name who makes this transaction's changes (for a session no request opened)."""
    session.info[PRINCIPAL_KEY] = actor


# --- recording ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Entry:
    record_type: str
    record_id: str
    action: AuditAction
    at: datetime
    version: int | None = None
    changes: dict[str, list[Any]] = field(default_factory=dict)  # field -> [before, after]

    def change(self, name: str, before: Any, after: Any) -> None:
        if name in self.changes:
            self.changes[name][1] = after  # changed twice in one transaction: first before, last after
        else:
            self.changes[name] = [before, after]


# correlation, flow, cause, client, person, supplier, via
_Why = tuple[str, str, str, str, str | None, str | None, str | None]
_Pending = dict[tuple[str, str, _Why], _Entry]


def install(db: Database) -> None:
    """Record every change made through this database's sessions (and only this database's:
    the listeners sit on a session class of its own)."""
    audited = type("AuditedSession", (Session,), {})
    event.listen(audited, "after_flush", _collect)
    event.listen(audited, "before_commit", _write)
    event.listen(audited, "after_rollback", _forget)
    db.sessions.configure(sync_session_class=audited)


def _collect(session: Session, flush_context: UOWTransaction) -> None:
    """After each flush (the session still shows what it flushed, with attribute history),
    note what changed. Entries merge per record and cause until the transaction commits, so a
    record changed by several flushes of one request gets one entry."""
    # Orphans removed from a collection are deleted by the flush without being in session.deleted.
    deleted = {id(o): o for o in session.deleted}
    for state, (is_delete, list_only) in flush_context.states.items():
        if is_delete and not list_only and state.obj() is not None:
            deleted[id(state.obj())] = state.obj()
    pending: _Pending = session.info.setdefault(_PENDING, {})
    why = _why(session)
    now = utcnow()
    for obj in session.new:
        _note(pending, why, now, obj, AuditAction.CREATED)
    for obj in session.dirty:
        if id(obj) not in deleted:
            _note(pending, why, now, obj, AuditAction.UPDATED)
    for obj in deleted.values():
        _note(pending, why, now, obj, AuditAction.DELETED)


def note(session: AsyncSession, obj: Any, action: AuditAction) -> None:
    """Note a change a Core statement made to the record (or child row) `obj`, which holds the
    change as attribute history the way a flushed ORM object would (contracts/kit/core_records.py):
    the recorder only sees ORM flushes, and the entry must be the same either way."""
    sync = session.sync_session
    _note(sync.info.setdefault(_PENDING, {}), _why(sync), utcnow(), obj, action)


def _why(session: Session) -> _Why:
    ctx = correlation.current()
    who = acting(session.info.get(PRINCIPAL_KEY))
    return (
        ctx.correlation_id,
        ctx.flow_id,
        ctx.causation_id,
        who.client_id if who else SYSTEM,
        who.person_id if who else None,
        who.supplier_id if who else None,
        who.via if who else None,
    )


def _note(pending: _Pending, why: _Why, now: datetime, obj: Any, action: AuditAction) -> None:
    state = inspect(obj)
    mapper = state.mapper
    parent = _parent_of(mapper)
    if isinstance(obj, RecordMixin):
        record_type, record_id, prefix, skip = _table_name(mapper), obj.id, "", _BOOKKEEPING
    elif parent is not None:
        record_type, fk_key, relation, label_keys = parent
        record_id = str(state.dict.get(fk_key))
        label = "/".join(str(_plain(state.dict.get(k))) for k in label_keys)
        prefix, skip = f"{relation}[{label}].", frozenset({fk_key, *label_keys})
    else:  # a row with neither an id of its own nor a parent record: its primary key names it
        key = "/".join(map(str, mapper.primary_key_from_instance(obj)))
        record_type, record_id, prefix, skip = _table_name(mapper), key, "", _BOOKKEEPING

    changes: list[tuple[str, Any, Any]] = []
    for attr in mapper.column_attrs:
        name = attr.key
        if name in skip:
            continue
        if action is AuditAction.CREATED:
            before, after = None, state.dict.get(name)
        elif action is AuditAction.DELETED:
            before, after = state.dict.get(name), None
        else:
            history = state.attrs[name].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
        before, after = _plain(before), _plain(after)
        if before != after:
            changes.append((prefix + name, before, after))

    own = prefix == ""
    if not changes and not own:
        return
    entry_key = (record_type, record_id, why)
    entry = pending.get(entry_key)
    if entry is None:
        # A child row's change is an update of its record, unless the record itself says otherwise.
        first = action if own else AuditAction.UPDATED
        entry = pending[entry_key] = _Entry(record_type, record_id, first, now)
    elif own and action is not AuditAction.UPDATED:
        entry.action = action
    if own or entry.version is None:
        version = getattr(obj, "version", None) if own else None
        entry.version = version if isinstance(version, int) else entry.version
    for name, before, after in changes:
        entry.change(name, before, after)


@cache
def _parent_of(mapper: Mapper[Any]) -> tuple[str, str, str, tuple[str, ...]] | None:
    """For a row without an id of its own: the record it belongs to, as (record table, the
    attribute holding the record's id, the record's relationship name, the attributes that tell
    the row apart within the record)."""
    for other in mapper.registry.mappers:
        if not issubclass(other.class_, RecordMixin):
            continue
        for relation in other.relationships:
            if relation.mapper is not mapper or relation.direction is not RelationshipDirection.ONETOMANY:
                continue
            pairs = relation.local_remote_pairs or []
            if len(pairs) != 1:
                continue
            fk_key = mapper.get_property_by_column(pairs[0][1]).key
            labels = tuple(
                mapper.get_property_by_column(c).key for c in mapper.primary_key if c is not pairs[0][1]
            )
            return _table_name(other), fk_key, relation.key, labels
    return None


def _table_name(mapper: Mapper[Any]) -> str:
    return str(getattr(mapper.local_table, "name", mapper.class_.__name__))


def _write(session: Session) -> None:
    """Before the commit: flush what is left (so it is collected), then insert the entries in
    the same transaction as the changes."""
    session.flush()
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = []
    for (_type, _id, why), entry in pending.items():
        if not entry.changes and entry.action is AuditAction.UPDATED:
            continue  # a touch or a version bump alone, or changed and changed back: no new state
        correlation_id, flow_id, causation_id, client_id, person_id, supplier_id, via = why
        rows.append(
            {
                "audit_id": new_id("AUD"),
                "at": entry.at,
                "record_type": entry.record_type,
                "record_id": entry.record_id[:200],
                "action": entry.action.value,
                "version": entry.version,
                "changes": entry.changes,
                "actor_client_id": client_id[:200],
                "actor_person_id": person_id,
                "actor_supplier_id": supplier_id,
                "actor_via": via,
                "correlation_id": correlation_id or None,
                "flow_id": flow_id or None,
                "causation_id": causation_id or None,
            }
        )
    if rows:
        session.connection().execute(_INSERT, rows)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _plain(value: Any) -> Any:
    """A JSON value that reads the same in the API as in the record."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


# --- append-only in the database -------------------------------------------------------------
_REFUSE = "kit_audit is append-only: audit entries are never changed or deleted"


def append_only_ddl(dialect: str) -> list[str]:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE) on `kit_audit`. Migrations run these
    once; a later change to them needs a new revision."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION kit_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSE}' USING ERRCODE = 'insufficient_privilege'; END $$",
            "CREATE TRIGGER kit_audit_no_change BEFORE UPDATE OR DELETE ON kit_audit "
            "FOR EACH ROW EXECUTE FUNCTION kit_audit_append_only()",
            "CREATE TRIGGER kit_audit_no_truncate BEFORE TRUNCATE ON kit_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION kit_audit_append_only()",
        ]
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER kit_audit_no_{verb.lower()} BEFORE {verb} ON kit_audit "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return []


def drop_append_only_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS kit_audit_no_truncate ON kit_audit",
            "DROP TRIGGER IF EXISTS kit_audit_no_change ON kit_audit",
            "DROP FUNCTION IF EXISTS kit_audit_append_only()",
        ]
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS kit_audit_no_update", "DROP TRIGGER IF EXISTS kit_audit_no_delete"]
    return []


# --- reading ---------------------------------------------------------------------------------
_SAFE_ID = correlation.SAFE_ID.pattern
RecordType = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=100,
        pattern=whole(r"[a-z][a-z0-9_]*"),
        description="The record's kind, as its table: `lots`, `purchase_orders`, `inspection_lots`, ...",
    ),
]
RecordId = Annotated[
    str | None,
    Parameter(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN, description="The record's id"),
]


def _cause(description: str) -> Any:
    return Parameter(min_length=1, max_length=128, pattern=_SAFE_ID, description=description)


CorrelationId = Annotated[str | None, _cause("Changes made under this X-Correlation-ID")]
FlowId = Annotated[str | None, _cause("Changes made by steps of this process flow (its X-Flow-ID)")]
CausationId = Annotated[str | None, _cause("Changes caused by this event (its id, sent as X-Causation-ID)")]


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([seq])).decode().rstrip("=")


# A sequence number as a database integer holds it: msgspec decodes integers of any size.
_Seq = Annotated[int, msgspec.Meta(ge=0, le=DB_INT_MAX)]


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        (seq,) = msgspec.json.decode(raw, type=tuple[_Seq])
        return seq
    except (ValueError, TypeError, msgspec.DecodeError) as exc:
        raise invalid_cursor() from exc


async def entries(
    session: Any,
    q: PageQuery,
    *,
    record_type: str | None = None,
    record_id: str | None = None,
    correlation_id: str | None = None,
    flow_id: str | None = None,
    causation_id: str | None = None,
) -> Page[AuditEntry]:
    """Oldest first, in the order the changes committed within each service."""
    query = select(audit_log)
    for column, value in (
        (audit_log.c.record_type, record_type),
        (audit_log.c.record_id, record_id),
        (audit_log.c.correlation_id, correlation_id),
        (audit_log.c.flow_id, flow_id),
        (audit_log.c.causation_id, causation_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if q.updated_since is not None:
        query = query.where(audit_log.c.at > q.updated_since)
    if q.cursor:
        query = query.where(audit_log.c.seq > _decode_cursor(q.cursor))
    rows = (await session.execute(query.order_by(audit_log.c.seq).limit(q.limit + 1))).all()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return Page(items=[_view(r) for r in rows], next_cursor=_encode_cursor(rows[-1].seq) if more else None)


def _view(row: Any) -> AuditEntry:
    changes = row.changes if isinstance(row.changes, dict) else {}
    return AuditEntry(
        audit_id=row.audit_id,
        at=as_utc(row.at),
        record_type=row.record_type,
        record_id=row.record_id,
        action=AuditAction(row.action),
        version=row.version,
        changes={k: FieldChange(before=v[0], after=v[1]) for k, v in changes.items()},
        actor=AuditActor(
            client_id=row.actor_client_id,
            person_id=row.actor_person_id,
            supplier_id=row.actor_supplier_id,
            via=row.actor_via,
        ),
        correlation_id=row.correlation_id,
        flow_id=row.flow_id,
        causation_id=row.causation_id,
    )


def _operation_id(_handler: Any, _method: Any, path: Sequence[Any]) -> str:
    return "".join(str(part).title() for part in path if isinstance(part, str)) + "List"


def audit_routes() -> list[ControllerRouterHandler]:
    """`GET /audit`, mounted by the app factory on every API version of an audited service."""

    @get(
        "/audit",
        tags=["audit"],
        summary="Audit trail: who changed what, when and why",
        description="Every change to this service's records, oldest first: the record, the changed "
        "fields before and after, the client (and person or supplier) that made it, and why "
        "(correlation id, the process flow that called, the event that caused it). Filter by "
        "record, correlation id or flow id. Entries are never changed or deleted; there is no "
        "write method.",
        responses=problems(422),
        operation_id=_operation_id,
    )
    async def audit_trail(
        session: RequestSession,
        page_query: Paged,  # provided by the app factory
        record_type: RecordType = None,
        record_id: RecordId = None,
        correlation_id: CorrelationId = None,
        flow_id: FlowId = None,
        causation_id: CausationId = None,
    ) -> Page[AuditEntry]:
        return await entries(
            session,
            page_query,
            record_type=record_type,
            record_id=record_id,
            correlation_id=correlation_id,
            flow_id=flow_id,
            causation_id=causation_id,
        )

    return [audit_trail]


__all__ = [
    "Actor",
    "acting_as",
    "append_only_ddl",
    "audit_log",
    "audit_metadata",
    "audit_routes",
    "drop_append_only_ddl",
    "entries",
    "install",
]
