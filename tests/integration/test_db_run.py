"""`Database.run`: Core work in one transaction on SQLite and PostgreSQL, committed when it
returns and rolled back, all of it, when it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert, select

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
