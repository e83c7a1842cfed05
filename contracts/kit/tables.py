"""Tables the kernel keeps in every service's own database (outbox, idempotency, inbox).

The kit's `kernel` Alembic branch makes them (contracts/kit/migrations/versions/kernel).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# BigInteger on PostgreSQL, INTEGER (the rowid alias) on SQLite: both autoincrement.
_id = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "kit_outbox",
    metadata,
    Column("seq", _id, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("stream", String(100), nullable=False),
    Column("type", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
)
Index("ix_kit_outbox_pending", outbox.c.published_at, outbox.c.seq)

idempotency_keys = Table(
    "kit_idempotency_keys",
    metadata,
    Column("principal", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

# Events a consumer has applied; written in the same transaction as the handler's work.
inbox = Table(
    "kit_inbox",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)
