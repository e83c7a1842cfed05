"""The webhooks service's own tables: subscriptions, the events they may be sent, messages (one
event for one subscription) with their attempts, and the inbound webhooks already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime

metadata = MetaData()
_id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata


class SubscriptionRow(RecordMixin, Base):
    __tablename__ = "webhook_subscriptions"

    client_id: Mapped[str] = mapped_column(String(200), index=True)
    # Set for a supplier's client: only events about that supplier's records are sent.
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An endpoint that answered 429/502/503/504 gets nothing before this instant.
    throttled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Signing secrets, sealed when WEBHOOKS_SECRET_ENCRYPTION_KEY is set (secrets.py).
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What made it active, matched against the gateway's revocations (revoked.py): the issuer and
    # issue time of the client's token that created or re-enabled it (an operator's enabling: its
    # time). No issuer (made before it was recorded): a revocation by any issuer covers it.
    issuer: Mapped[str | None] = mapped_column(String(2000))
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventRow(Base):
    """An event as it is delivered: the exact body, and which supplier may see it (if any)."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MessageRow(RecordMixin, Base):
    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_messages_subscription_event"),
        # The dispatcher's claim: due pending messages, oldest first.
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64), ForeignKey("webhook_events.event_id"), index=True)
    event_type: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While set and in the future, a dispatcher is delivering it (a crashed one's lease runs out).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(20), default="scheduled")  # what the next attempt is
    last_response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AttemptRow(Base):
    __tablename__ = "webhook_attempts"

    seq: Mapped[int] = mapped_column(_id, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(20))
    succeeded: Mapped[bool]
    response_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float]
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class InboundRow(Base):
    """An inbound webhook applied once; its id answers every repeat."""

    __tablename__ = "webhook_inbound"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    webhook_timestamp: Mapped[int] = mapped_column(BigInteger)
    body_sha256: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


subscriptions = cast(Table, SubscriptionRow.__table__)
events = cast(Table, EventRow.__table__)
messages = cast(Table, MessageRow.__table__)
attempts = cast(Table, AttemptRow.__table__)
inbound = cast(Table, InboundRow.__table__)
