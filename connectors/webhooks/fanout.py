"""From the event streams into durable messages: every event a subscription is due becomes a
message row, in the consumer's transaction (with its inbox row), so nothing is lost between
the stream and the dispatcher and nothing is queued twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.webhooks import access
from connectors.webhooks.store import events, messages, subscriptions
from contracts.events.envelope import CloudEvent
from contracts.kit import signals
from contracts.kit.consumer import Consumer
from contracts.kit.paging import utcnow
from contracts.kit.records import new_id

GROUP = "webhooks"
SIGNAL = "webhooks"  # wakes the dispatcher when messages are committed
_ACTIVE = "pb.webhooks.active"
_ACTIVE_SUBSCRIPTIONS = select(
    subscriptions.c.id, subscriptions.c.supplier_id, subscriptions.c.event_types
).where(subscriptions.c.status == bindparam("active"))


class Payload(msgspec.Struct, kw_only=True):
    """The body a receiver gets: the Standard Webhooks shape (type, timestamp, data) plus the
    CloudEvent's id, subject, source and correlation id."""

    type: str
    timestamp: datetime
    data: Any
    id: str
    subject: str
    source: str
    correlationid: str = ""


_ENCODE = msgspec.json.Encoder().encode


def body_of(event: CloudEvent) -> bytes:
    return _ENCODE(
        Payload(
            type=event.type,
            timestamp=event.time,
            data=event.data,
            id=event.id,
            subject=event.subject,
            source=event.source,
            correlationid=event.correlationid,
        )
    )


class FanOut:
    def __init__(self, is_sqlite: bool) -> None:
        dialect = sqlite if is_sqlite else postgresql
        self._event_insert = dialect.insert(events).on_conflict_do_nothing()
        self._message_insert = dialect.insert(messages).on_conflict_do_nothing()

    async def __call__(self, event: CloudEvent, session: AsyncSession) -> None:
        tenant = access.tenant_of(event)
        await session.execute(
            self._event_insert,
            {
                "event_id": event.id,
                "event_type": event.type,
                "supplier_id": tenant,
                "body": body_of(event),
                "occurred_at": event.time,
            },
        )
        due = [
            sub_id
            for sub_id, supplier, types in await _active(session)
            if event.type in types and access.receives(supplier, tenant)
        ]
        if due:
            now = utcnow()
            await session.execute(
                self._message_insert,
                [message_row(sub_id, event.id, event.type, now) for sub_id in due],
            )
            signals.notify_on_commit(session, SIGNAL)


def message_row(subscription_id: str, event_id: str, event_type: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("MSG"),
        "version": 1,
        "subscription_id": subscription_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "trigger": "scheduled",
        "created_at": now,
        "updated_at": now,
    }


async def _active(session: AsyncSession) -> list[tuple[str, str | None, frozenset[str]]]:
    """Active subscriptions, read once per consumer transaction (a batch of events)."""
    cached: list[tuple[str, str | None, frozenset[str]]] | None = session.info.get(_ACTIVE)
    if cached is None:
        rows = (await session.execute(_ACTIVE_SUBSCRIPTIONS, {"active": "active"})).all()
        cached = session.info[_ACTIVE] = [(r.id, r.supplier_id, frozenset(r.event_types)) for r in rows]
    return cached


def consumer(base: Consumer) -> Consumer:
    """The kernel consumer group `webhooks`, on every event type of the catalogue."""
    fan_out = FanOut(base.db.is_sqlite)
    for name in access.catalogue():
        base.on(name, fan_out)
    return base
