"""What every stored record has: an id, a version for optimistic locking, and timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Integer, String
from sqlalchemy.orm import Mapped, Relationship, declared_attr, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from contracts.kit.paging import utcnow

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread


def new_id(prefix: str) -> str:
    """Short, readable, random ids such as `LOT-7K3M9QX2D4TB` that a person can read out."""
    bits = int.from_bytes(secrets.token_bytes(8)) >> 4  # 60 random bits, 5 per character
    return f"{prefix}-" + "".join(_ALPHABET[(bits >> shift) & 31] for shift in range(0, 60, 5))


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that stores UTC and reads back as an aware UTC datetime on every database:
    PostgreSQL's timestamptz answers in the session's zone, SQLite keeps the wall-clock time and
    drops the offset (so a +02:00 moment must be turned to UTC before it is written). Rows then
    convert to wire types as they are, with no per-field fix-up."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def child_rows(order_by: str | None = None) -> Relationship[Any]:
    """A record's child rows (its lines, its balances): loaded with it by one SELECT ... IN for a
    whole page of records, stored and deleted with it, in `order_by` order (the child's columns
    named in a string, resolved once every class is declared; None: no order)."""
    return relationship(order_by=order_by or False, lazy="selectin", cascade="all, delete-orphan")


class RecordMixin:
    """Mix into a declarative model; SQLAlchemy bumps `version` on every UPDATE and refuses
    an UPDATE whose version moved underneath it (lost-update protection)."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False, index=True
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}

    def touch(self) -> None:
        """Mark the record changed when only its child rows changed."""
        self.updated_at = utcnow()
