"""The connector's own small database: what it accepted from machines and what it owes MES.

- `sf_devices`: every device heard from, its mapped equipment, the last message number (so a
  redelivered MQTT message is recognised after a restart) and its problem counts.
- `sf_equipment`: the fold of each equipment (connectors/shopfloor/folding.py).
- `sf_commands`: the outbox toward MES. A command is written in the same transaction as the fold
  that produced it and sent with its idempotency key until MES answers; per equipment strictly in
  order. Sent commands are kept for `history_hours`.
- `sf_problems`: recent problems with what machines sent, per device (repeats folded into one row
  per interval so a misbehaving device cannot flood it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

metadata = MetaData()
SERIAL = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

devices = Table(
    "sf_devices",
    metadata,
    Column("device", String(255), primary_key=True),
    Column("equipment_id", String(64), nullable=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=True),
    Column("readings", BigInteger, nullable=False),
    Column("problems", JSON, nullable=False),  # problem → count
    Column("last_problem", Text, nullable=True),
    Column("last_problem_at", DateTime(timezone=True), nullable=True),
)

equipment = Table(
    "sf_equipment",
    metadata,
    Column("equipment_id", String(64), primary_key=True),
    Column("fold", Text, nullable=False),  # folding.Fold as JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

commands = Table(
    "sf_commands",
    metadata,
    Column("id", SERIAL, primary_key=True, autoincrement=True),
    Column("equipment_id", String(64), nullable=False),
    Column("device", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # state | confirm
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("body", JSON, nullable=False),
    Column("machine_at", DateTime(timezone=True), nullable=False),  # when the machine did it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(32), nullable=True),  # applied | already | refused
    Column("detail", Text, nullable=True),
)
Index("ix_sf_commands_unsent", commands.c.sent_at, commands.c.equipment_id, commands.c.id)

problems = Table(
    "sf_problems",
    metadata,
    Column("id", SERIAL, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("device", String(255), nullable=False),
    Column("problem", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("repeats", Integer, nullable=False),  # how many like it since the previous row
)
Index("ix_sf_problems_device", problems.c.device, problems.c.id)


def _dialect(session: AsyncSession) -> Any:
    return sqlite if session.get_bind().dialect.name == "sqlite" else postgresql


async def upsert_devices(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _dialect(session).insert(devices)
    keep = (
        "equipment_id",
        "last_seen",
        "last_seq",
        "readings",
        "problems",
        "last_problem",
        "last_problem_at",
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[devices.c.device], set_={c: stmt.excluded[c] for c in keep}
        ),
        list(rows),
    )


async def save_folds(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _dialect(session).insert(equipment)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[equipment.c.equipment_id],
            set_={"fold": stmt.excluded.fold, "updated_at": stmt.excluded.updated_at},
        ),
        list(rows),
    )


async def add_commands(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """A key already queued is the same change (its fold was stored with it): it is not queued twice."""
    if rows:
        stmt = (
            _dialect(session)
            .insert(commands)
            .on_conflict_do_nothing(index_elements=[commands.c.idempotency_key])
        )
        await session.execute(stmt, list(rows))


async def add_problems(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(problems.insert(), list(rows))


async def due_commands(session: AsyncSession, now: datetime, busy: set[str], limit: int) -> list[Any]:
    """The oldest unsent command of each equipment not already being sent, if it is due; state
    changes before confirmations (per equipment the order is kept: only its oldest is taken)."""
    heads = (
        select(func.min(commands.c.id))
        .where(commands.c.sent_at.is_(None))
        .group_by(commands.c.equipment_id)
        .scalar_subquery()
    )
    query = select(commands).where(commands.c.id.in_(heads), commands.c.due_at <= now)
    if busy:
        query = query.where(commands.c.equipment_id.not_in(busy))
    # State changes first: their latency is what a plant watches; confirmations can wait a moment.
    first = (commands.c.kind == "state").desc()
    return list((await session.execute(query.order_by(first, commands.c.id).limit(limit))).all())


async def finish_command(
    session: AsyncSession, command_id: int, sent_at: datetime, outcome: str, detail: str
) -> None:
    await session.execute(
        update(commands)
        .where(commands.c.id == command_id)
        .values(sent_at=sent_at, outcome=outcome, detail=detail[:2000] or None)
    )


async def postpone_command(session: AsyncSession, command_id: int, due_at: datetime, detail: str) -> None:
    await session.execute(
        update(commands)
        .where(commands.c.id == command_id)
        .values(due_at=due_at, attempts=commands.c.attempts + 1, detail=detail[:2000])
    )


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """Unsent commands and the machine time of the oldest."""
    row = (
        await session.execute(
            select(func.count(), func.min(commands.c.machine_at)).where(commands.c.sent_at.is_(None))
        )
    ).one()
    return int(row[0]), row[1]


async def purge(session: AsyncSession, before: datetime) -> None:
    await session.execute(
        delete(commands).where(and_(commands.c.sent_at.is_not(None), commands.c.sent_at < before))
    )
    await session.execute(delete(problems).where(problems.c.at < before))
