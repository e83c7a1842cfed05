"""From the event streams into durable messages: every event a subscription is due becomes a
message row, in the consumer's transaction (with its inbox row), so nothing is lost between
the stream and the dispatcher and nothing is queued twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from connectors.webhooks import access
from connectors.webhooks.store import events, messages, subscriptions
from contracts.kit import signals
from contracts.kit.consumer import Consumer
from contracts.kit.envelope import CloudEvent
from contracts.kit.paging import utcnow
from contracts.kit.records import new_id

GROUP = "webhooks"
SIGNAL = "webhooks"  # wakes the dispatcher when messages are committed
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
    """The group's handler of batches: the event rows and the messages due, one statement each
    (a batch of 200 events is 2 INSERTs, not 400), on the consumer's Core connection."""

    def __init__(self, is_sqlite: bool) -> None:
        dialect = sqlite if is_sqlite else postgresql
        self._event_insert = dialect.insert(events).on_conflict_do_nothing()
        self._message_insert = dialect.insert(messages).on_conflict_do_nothing()

    def __call__(self, batch: Sequence[CloudEvent], conn: Connection) -> None:
        active = [
            (r.id, r.supplier_id, frozenset(r.event_types))
            for r in conn.execute(_ACTIVE_SUBSCRIPTIONS, {"active": "active"})
        ]
        now = utcnow()
        rows: list[dict[str, Any]] = []
        due: list[dict[str, Any]] = []
        for event in batch:
            tenant = access.tenant_of(event)
            rows.append(
                {
                    "event_id": event.id,
                    "event_type": event.type,
                    "supplier_id": tenant,
                    "body": body_of(event),
                    "occurred_at": event.time,
                }
            )
            due.extend(
                message_row(sub_id, event.id, event.type, now)
                for sub_id, supplier, types in active
                if event.type in types and access.receives(supplier, tenant)
            )
        conn.execute(self._event_insert, rows)
        if due:
            conn.execute(self._message_insert, due)
            signals.notify_on_commit(conn, SIGNAL)


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


def consumer(base: Consumer) -> Consumer:
    """The kernel consumer group `webhooks`, on every event type of the catalogue."""
    fan_out = FanOut(base.db.is_sqlite)
    base.batch_size = 200  # a transaction per batch: fewer, larger commits keep up with bursts
    for name in access.catalogue():
        base.on_batch(name, fan_out)
    return base
