"""`Database.run`: Core work in one transaction on SQLite and PostgreSQL, committed when it
returns and rolled back, all of it, when it raises; relaxed, without the fsync for that commit
only (SQLite; PostgreSQL's `synchronous_commit` is per transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert, select, text

from contracts.kit.db import Database

marks = Table("run_marks", MetaData(), Column("id", Integer, primary_key=True))


@pytest.fixture
async def db(
    backend: str, database_url: Callable[[str, str], str], request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    database = Database(database_url(backend, request.node.name))
    async with database.engine.begin() as conn:
        await conn.run_sync(marks.metadata.create_all)
    yield database
    await database.dispose()


async def stored(db: Database) -> list[int]:
    async with db.engine.connect() as conn:
        return list((await conn.scalars(select(marks.c.id).order_by(marks.c.id))).all())


async def test_work_that_returns_is_committed_and_its_result_handed_back(db: Database) -> None:
    def mark(conn: Connection) -> int:
        conn.execute(insert(marks), [{"id": 1}, {"id": 2}])
        return len(conn.execute(select(marks.c.id)).all())

    assert await db.run(mark) == 2
    assert await stored(db) == [1, 2]


async def test_work_that_raises_leaves_nothing_behind(db: Database) -> None:
    def mark_then_fail(conn: Connection) -> None:
        conn.execute(insert(marks), {"id": 1})
        raise RuntimeError("the lease was lost")

    with pytest.raises(RuntimeError, match="lease was lost"):
        await db.run(mark_then_fail)
    assert await stored(db) == []
    await db.run(lambda conn: conn.execute(insert(marks), {"id": 3}))  # the pooled connection works on
    assert await stored(db) == [3]


async def synchronous(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA synchronous"))).scalar_one())


async def test_relaxed_work_commits_without_fsync_and_the_connection_is_durable_again(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/relaxed.db")
    await db.run(lambda conn: marks.metadata.create_all(conn))

    def mark(conn: Connection) -> int:
        conn.execute(insert(marks), {"id": 1})
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())

    assert await db.run(mark, relaxed=True) == 1  # NORMAL, for this commit
    assert await synchronous(db) == 2  # FULL, for whatever the pooled connection does next
    assert await stored(db) == [1]

    def fail(conn: Connection) -> None:
        conn.execute(insert(marks), {"id": 2})
        raise RuntimeError("lost")

    with pytest.raises(RuntimeError):
        await db.run(fail, relaxed=True)
    assert await synchronous(db) == 2
    assert await stored(db) == [1]
    await db.dispose()
