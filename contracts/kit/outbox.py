"""The transactional outbox: events are rows written in the same transaction as the change.

`publish` keeps the rows on the session and writes them all with one executemany just before
the transaction commits (a SQLAlchemy statement costs ~100-150 µs before the database does
any work; a use case that stages several events pays that once). Inside a savepoint they are
written at once, so rolling the savepoint back takes them with it.

`stage` writes envelopes on a Core connection (work inside `Database.run`), in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from contracts.kit import correlation, signals, tracing
from contracts.kit.envelope import CloudEvent, encode, type_of
from contracts.kit.tables import outbox

# The after-commit signal that wakes the relay (contracts/kit/relay.py) at once.
SIGNAL = "outbox"
_INSERT = outbox.insert()
_STAGED = "pb.outbox.staged"


def envelope(
    source: str, subject: str, data: msgspec.Struct, correlation_id: str | None = None
) -> CloudEvent:
    ctx = correlation.current()
    kind = type_of(data)
    event_id = str(uuid.uuid4())
    return CloudEvent(
        id=event_id,
        source=source,
        type=kind.name,
        subject=subject,
        time=datetime.now(UTC),
        data=data,
        correlationid=correlation_id or ctx.correlation_id or correlation.new_correlation_id(),
        causationid=ctx.causation_id,
        # The operation's traceparent; with tracing on, that of the span recording the staging.
        traceparent=tracing.staged(kind.name, kind.stream, event_id, ctx.traceparent),
    )


async def publish(
    session: AsyncSession,
    source: str,
    subject: str,
    data: msgspec.Struct,
    *,
    correlation_id: str | None = None,
) -> CloudEvent:
    """Stage an event; it is only ever sent if the surrounding transaction commits.

    `correlation_id` publishes it under the business incident its record belongs to rather than
    the current request's (a repair reported days after the nonconformance that called for it
    continues that incident), so the flows one incident sets off share one id."""
    event = envelope(source, subject, data, correlation_id)
    row = _row(event)
    if session.in_nested_transaction():
        await (await session.connection()).execute(_INSERT, row)
    else:
        if not session.in_transaction():
            await session.connection()  # begin, so that a close without commit drops the row
        session.info.setdefault(_STAGED, []).append(row)
    signals.notify_on_commit(session, SIGNAL)
    return event


def stage(conn: Connection, events: Sequence[CloudEvent]) -> None:
    """Write `envelope()`s in the connection's transaction; only ever sent if it commits.
    For work on Core inside `Database.run`, which wakes the relay when it commits."""
    if events:
        conn.execute(_INSERT, [_row(event) for event in events])
        signals.notify_on_commit(conn, SIGNAL)


def _row(event: CloudEvent) -> dict[str, object]:
    return {
        "event_id": event.id,
        "stream": type_of(event.data).stream,
        "type": event.type,
        "subject": event.subject,
        "payload": encode(event),
        "created_at": event.time,
    }


@sa_event.listens_for(Session, "before_commit")
def _write_staged(session: Session) -> None:
    rows = session.info.pop(_STAGED, None)
    if rows:
        session.connection().execute(_INSERT, rows)  # async sessions run this hook inside their greenlet


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_staged(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction rolled back or closed
        session.info.pop(_STAGED, None)
