"""This service's own tables (besides the flow store): what it must remember between events.

- NC signals: nonconformances on a machine that did not start a flow alone, counted per
  machine within a window until they reach the plant's threshold; and the flow each NC went
  into, however it started (its event, the threshold, an operator), so one NC raises one request.
- Breakdowns: one open breakdown per asset, claimed by the flow that handles it, so the shop
  floor's "machine down" and the CMMS "asset down" for the same stop raise one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

maintenance_metadata = MetaData()

nc_signals = Table(
    "mnt_nc_signals",
    maintenance_metadata,
    Column("nc_id", String(64), primary_key=True),
    Column("equipment_id", String(64), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("flow_id", String(64), nullable=True),  # the flow it went into, once it did
)
Index("ix_mnt_nc_signals_pending", nc_signals.c.equipment_id, nc_signals.c.flow_id, nc_signals.c.occurred_at)

breakdowns = Table(
    "mnt_breakdowns",
    maintenance_metadata,
    Column("asset_id", String(128), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)


async def _insert_ignore(session: AsyncSession, table: Table, values: dict[str, object]) -> bool:
    """Insert unless the primary key exists; True if this call inserted."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    result = await session.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())
    return int(getattr(result, "rowcount", 0)) == 1


async def record_nc(
    session: AsyncSession,
    nc_id: str,
    equipment_id: str,
    severity: str,
    at: datetime,
    flow_id: str | None = None,
) -> bool:
    values = {"nc_id": nc_id, "equipment_id": equipment_id, "severity": severity, "occurred_at": at}
    return await _insert_ignore(session, nc_signals, values | {"flow_id": flow_id})


async def pending_ncs(session: AsyncSession, equipment_id: str, since: datetime) -> list[str]:
    """NCs on the machine since `since` that no flow has taken yet, oldest first."""
    found = await session.scalars(
        select(nc_signals.c.nc_id)
        .where(
            nc_signals.c.equipment_id == equipment_id,
            nc_signals.c.flow_id.is_(None),
            nc_signals.c.occurred_at >= since,
        )
        .order_by(nc_signals.c.occurred_at, nc_signals.c.nc_id)
    )
    return list(found.all())


async def assign_ncs(session: AsyncSession, nc_ids: Sequence[str], flow_id: str) -> None:
    await session.execute(update(nc_signals).where(nc_signals.c.nc_id.in_(nc_ids)).values(flow_id=flow_id))


async def nc_flows(session: AsyncSession, nc_ids: Sequence[str]) -> dict[str, str]:
    """The flow each of these NCs already went into (those that went into none are absent)."""
    rows = await session.execute(
        select(nc_signals.c.nc_id, nc_signals.c.flow_id).where(
            nc_signals.c.nc_id.in_(nc_ids), nc_signals.c.flow_id.is_not(None)
        )
    )
    return {str(nc_id): str(flow_id) for nc_id, flow_id in rows.all()}


async def take_ncs(session: AsyncSession, nc_ids: Sequence[str], flow_id: str, at: datetime) -> bool:
    """Give the NCs an operator named to the flow started for them: False if another flow took
    one of them first. An NC not seen yet (its event still on the way) is recorded taken, so its
    event starts nothing; an operator's start names no severity and maybe no machine, and a taken
    NC counts toward no threshold, so neither is read again."""
    for nc_id in nc_ids:
        values = {"nc_id": nc_id, "equipment_id": "", "severity": "", "occurred_at": at, "flow_id": flow_id}
        if await _insert_ignore(session, nc_signals, values):
            continue
        taken = await session.execute(
            update(nc_signals)
            .where(nc_signals.c.nc_id == nc_id, nc_signals.c.flow_id.is_(None))
            .values(flow_id=flow_id)
        )
        if int(getattr(taken, "rowcount", 0)) != 1:
            return False
    return True


async def claim_breakdown(session: AsyncSession, asset_id: str, flow_id: str, at: datetime) -> str:
    """The flow that owns the asset's open breakdown: this one, unless another claimed it first."""
    await _insert_ignore(session, breakdowns, {"asset_id": asset_id, "flow_id": flow_id, "started_at": at})
    owner = await session.scalar(select(breakdowns.c.flow_id).where(breakdowns.c.asset_id == asset_id))
    return str(owner)


async def release_breakdown(session: AsyncSession, asset_id: str) -> None:
    """The asset is back in service: its next stop is a new breakdown."""
    await session.execute(delete(breakdowns).where(breakdowns.c.asset_id == asset_id))
