"""This service's own tables (besides the flow store): what it must remember between events.

- Defect alerts: the threshold quality leadership was last told about, and until when that
  telling covers it (one email per window, however many nonconformances follow).
- Disagreements: what reconciliation found out of step between QMS, ERP and MES, with its repair.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


defect_alerts = Table(
    "qual_defect_alerts",
    Base.metadata,
    Column("key", String(200), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)


class DisagreementRow(RecordMixin, Base):
    """One lot found out of step (per kind); audited, so its history shows who repaired it."""

    __tablename__ = "disagreements"
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), index=True)
    summary: Mapped[str] = mapped_column(String(300))
    disposition: Mapped[str] = mapped_column(String(20))  # what quality last said about the lot
    inspection_lot_id: Mapped[str] = mapped_column(String(64))
    nc_ids: Mapped[list[str]] = mapped_column(JSON)
    observed: Mapped[dict[str, Any]] = mapped_column(JSON)  # ERP balances, MES batches as seen
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    repair_flow_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    repairs: Mapped[int] = mapped_column(default=0)


quality_metadata = Base.metadata


async def claim_alert(session: AsyncSession, key: str, flow_id: str, now: datetime, until: datetime) -> bool:
    """True when this flow tells leadership about `key`: nobody did within the window that is
    still running, or this very flow did (a retry of the step)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    values = {"key": key, "flow_id": flow_id, "until": until}
    await session.execute(dialect.insert(defect_alerts).values(**values).on_conflict_do_nothing())
    await session.execute(  # an earlier window is over: this crossing is news again
        update(defect_alerts)
        .where(defect_alerts.c.key == key, defect_alerts.c.until <= now)
        .values(flow_id=flow_id, until=until)
    )
    owner = await session.scalar(select(defect_alerts.c.flow_id).where(defect_alerts.c.key == key))
    return owner == flow_id
