"""The transactional outbox: events are rows written in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.envelope import CloudEvent, encode, type_of
from contracts.kit import correlation, signals, tracing
from contracts.kit.tables import outbox

# The after-commit signal that wakes the relay (contracts/kit/relay.py) at once.
SIGNAL = "outbox"
_INSERT = outbox.insert()


def envelope(source: str, subject: str, data: msgspec.Struct) -> CloudEvent:
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
        correlationid=ctx.correlation_id or correlation.new_correlation_id(),
        causationid=ctx.causation_id,
        # The operation's traceparent; with tracing on, that of the span recording the staging.
        traceparent=tracing.staged(kind.name, kind.stream, event_id, ctx.traceparent),
    )


async def publish(session: AsyncSession, source: str, subject: str, data: msgspec.Struct) -> CloudEvent:
    """Stage an event; it is only ever sent if the surrounding transaction commits."""
    event = envelope(source, subject, data)
    # One prepared statement with parameters: about twice as fast as `.values(...)` per call.
    await session.execute(
        _INSERT,
        {
            "event_id": event.id,
            "stream": type_of(data).stream,
            "type": event.type,
            "subject": subject,
            "payload": encode(event),
            "created_at": event.time,
        },
    )
    signals.notify_on_commit(session, SIGNAL)
    return event
