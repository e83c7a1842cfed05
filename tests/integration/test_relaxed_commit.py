"""`Database.relaxed`: a commit without the fsync, for bookkeeping only; the connection it used
goes back to the pool as durable as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from contracts.kit.db import Database

marks = Table("marks", MetaData(), Column("id", Integer, primary_key=True))


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/relaxed.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(marks.metadata.create_all)
    return database


async def synchronous(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA synchronous"))).scalar_one())


async def test_a_relaxed_commit_is_seen_and_later_commits_are_durable_again(db: Database) -> None:
    async with db.relaxed() as conn:
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 1  # NORMAL
        await conn.execute(insert(marks), [{"id": 1}, {"id": 2}])
    assert await synchronous(db) == 2  # FULL, for whatever the pooled connection does next
    async with db.engine.connect() as conn:
        assert (await conn.scalars(select(marks.c.id))).all() == [1, 2]
    await db.dispose()


async def test_a_failing_relaxed_transaction_rolls_back_and_leaves_the_connection_durable(
    db: Database,
) -> None:
    async def mark_then_fail() -> None:
        async with db.relaxed() as conn:
            await conn.execute(insert(marks), {"id": 1})
            raise RuntimeError("redis went away")

    with pytest.raises(RuntimeError):
        await mark_then_fail()
    assert await synchronous(db) == 2
    async with db.engine.connect() as conn:
        assert (await conn.scalars(select(marks.c.id))).all() == []
    await db.dispose()
