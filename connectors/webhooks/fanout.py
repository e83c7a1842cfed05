"""From the event streams into durable messages: every event a subscription is due becomes a
message row, in the consumer's transaction (with its inbox row), so nothing is lost between
the stream and the dispatcher and nothing is queued twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from connectors.webhooks import access
from connectors.webhooks.store import events, messages, subscriptions
from contracts.kit import signals
from contracts.kit.consumer import Consumer
from contracts.kit.envelope import CloudEvent
from contracts.kit.paging import utcnow
from contracts.kit.records import new_id

GROUP = "webhooks"
SIGNAL = "webhooks"  # wakes the dispatcher when messages are committed
_ACTIVE = "pb.webhooks.active"
_STAGED = "pb.webhooks.staged"
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
    # Spelt out rather than `project()`: the data goes out as it is, with no round trip through
    # builtins (0.45 against 2.7 µs for a small event, 19 against 47 µs for a 13 KB one), and
    # mypy checks every field of the body receivers verify.
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
        staged = session.info.get(_STAGED)
        if staged is None:
            staged = session.info[_STAGED] = _Staged(self._event_insert, self._message_insert)
        staged.events.append(
            {
                "event_id": event.id,
                "event_type": event.type,
                "supplier_id": tenant,
                "body": body_of(event),
                "occurred_at": event.time,
            }
        )
        due = [
            sub_id
            for sub_id, supplier, types in await _active(session)
            if event.type in types and access.receives(supplier, tenant)
        ]
        if due:
            now = utcnow()
            staged.messages.extend(message_row(sub_id, event.id, event.type, now) for sub_id in due)
            signals.notify_on_commit(session, SIGNAL)


class _Staged:
    """Rows of a consumer transaction, written with one statement per table just before it
    commits (a batch of 50 events is 2 statements instead of 100)."""

    def __init__(self, event_insert: Any, message_insert: Any) -> None:
        self.event_insert = event_insert
        self.message_insert = message_insert
        self.events: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []


@sa_event.listens_for(Session, "before_commit")
def _write_staged(session: Session) -> None:
    staged: _Staged | None = session.info.pop(_STAGED, None)
    if staged is not None and staged.events:
        session.execute(staged.event_insert, staged.events)  # async sessions run this in their greenlet
        if staged.messages:
            session.execute(staged.message_insert, staged.messages)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_staged(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: nothing staged survives it
        session.info.pop(_STAGED, None)


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
    base.batch_size = 200  # a transaction per batch: fewer, larger commits keep up with bursts
    for name in access.catalogue():
        base.on(name, fan_out)
    return base
