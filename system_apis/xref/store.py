"""Registry tables and the few queries the use cases need. Only this service reads them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime


class Base(DeclarativeBase):
    pass


class EntityRow(RecordMixin, Base):
    """A canonical id (`id`) and what kind of thing it names."""

    __tablename__ = "entities"
    kind: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)


class MappingRow(RecordMixin, Base):
    """One system's id for a canonical id over [valid_from, valid_to); stored in UTC."""

    __tablename__ = "mappings"
    __table_args__ = (
        Index("ix_mappings_system_id", "kind", "system", "system_id"),
        Index("ix_mappings_canonical_system", "canonical_id", "system"),
    )
    canonical_id: Mapped[str] = mapped_column(ForeignKey("entities.id"))
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(20))
    system_id: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


async def lock_claims(
    session: AsyncSession, kind: str, system: str, system_id: str, canonical_id: str
) -> None:
    """Serialise writers whose claims could overlap, so two concurrent registrations cannot both
    pass the overlap check. Locks are taken in one global order, so they cannot deadlock.
    SQLite needs none: the service holds its single writer connection per transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({f"xref:system-id:{kind}:{system}:{system_id}", f"xref:canonical:{canonical_id}:{system}"})
    for key in keys:
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def rivals(
    session: AsyncSession, kind: str, system: str, system_id: str, canonical_id: str
) -> list[MappingRow]:
    """Every mapping a new claim could contradict: same system id, or same canonical id, in `system`."""
    query = select(MappingRow).where(
        MappingRow.kind == kind,
        MappingRow.system == system,
        or_(MappingRow.system_id == system_id, MappingRow.canonical_id == canonical_id),
    )
    return list((await session.scalars(query)).all())


async def by_system_id(session: AsyncSession, kind: str, system: str, system_id: str) -> list[MappingRow]:
    query = select(MappingRow).where(
        MappingRow.kind == kind, MappingRow.system == system, MappingRow.system_id == system_id
    )
    return list((await session.scalars(query)).all())


async def by_canonical_id(session: AsyncSession, canonical_id: str) -> list[MappingRow]:
    query = select(MappingRow).where(MappingRow.canonical_id == canonical_id).order_by(MappingRow.system)
    return list((await session.scalars(query)).all())
