"""The transactional outbox: events are rows written in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.envelope import CloudEvent, encode, type_of
from contracts.kit import correlation, signals
from contracts.kit.tables import outbox

# The after-commit signal that wakes the relay (contracts/kit/relay.py) at once.
SIGNAL = "outbox"
_INSERT = outbox.insert()


def envelope(source: str, subject: str, data: msgspec.Struct) -> CloudEvent:
    ctx = correlation.current()
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type_of(data).name,
        subject=subject,
        time=datetime.now(UTC),
        data=data,
        correlationid=ctx.correlation_id or correlation.new_correlation_id(),
        causationid=ctx.causation_id,
        traceparent=ctx.traceparent,
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
