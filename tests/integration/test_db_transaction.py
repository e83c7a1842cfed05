"""`Database.transaction`: commit on success, roll back on any failure, hand the connection back,
and let other tasks run between transactions, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.kit.db import Database
from tests.integration.test_sqlite_inline import metadata, things
from tests.support.db import database_of


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    url = database_url(backend, f"tx_{uuid.uuid4().hex[:10]}")
    async with database_of(url, metadata) as database:
        yield database


async def names(db: Database) -> list[str]:
    async with asyncio.timeout(5):  # a connection not handed back would hang here (SQLite: pool of 1)
        async with db.sessions() as session:
            return list((await session.scalars(select(things.c.name).order_by(things.c.id))).all())


async def test_a_commit_that_fails_is_raised_and_leaves_nothing(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(insert(things), {"name": "taken"})

    def write_at_commit(sync_session: Session) -> None:  # as the outbox writes its staged rows
        sync_session.connection().execute(insert(things), {"name": "taken"})

    async def use_case() -> None:
        async with db.transaction() as session:
            event.listen(session.sync_session, "before_commit", write_at_commit)
            await session.execute(insert(things), {"name": "in the same transaction"})

    with pytest.raises(IntegrityError):
        await use_case()
    assert await names(db) == ["taken"]


async def test_a_cancelled_use_case_rolls_back_and_hands_the_connection_back(db: Database) -> None:
    inside = asyncio.Event()

    async def use_case() -> None:
        async with db.transaction() as session:
            await session.execute(insert(things), {"name": "cancelled"})
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(use_case())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await names(db) == []


async def test_a_loop_of_transactions_lets_other_tasks_run_between_them(db: Database) -> None:
    turns: list[str] = []

    async def other_work() -> None:
        while True:
            turns.append("other")
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    try:
        for n in range(5):
            async with db.transaction() as session:
                await session.execute(insert(things), {"name": f"n{n}"})
            turns.append("commit")
    finally:
        other.cancel()
    commits = [i for i, turn in enumerate(turns) if turn == "commit"]
    assert all(turns[i + 1] == "other" for i in commits[:-1]), turns
