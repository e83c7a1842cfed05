"""The kernel's SQLite driver (contracts.kit.sqlite_inline) behind SQLAlchemy, on real files."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from contracts.kit.db import Database

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False, unique=True),
)


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/inline.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database  # type: ignore[misc]
    await database.dispose()


async def names(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.scalars(select(things.c.name).order_by(things.c.id))).all())


async def test_commit_and_rollback(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(insert(things), {"name": "kept"})

    async def failing_use_case() -> None:
        async with db.transaction() as session:
            await session.execute(insert(things), {"name": "dropped"})
            raise RuntimeError("use case failed")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    assert await names(db) == ["kept"]


async def test_constraint_violation_is_sqlalchemys_integrity_error(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(insert(things), {"name": "lot-1"})
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(insert(things), {"name": "lot-1"})
    assert await names(db) == ["lot-1"]


async def test_many_rows_with_returning_in_one_statement(db: Database) -> None:
    statement = sqlite_insert(things).on_conflict_do_nothing().returning(things.c.name)
    async with db.transaction() as session:
        await session.execute(insert(things), {"name": "b"})
        fresh = set((await session.execute(statement, [{"name": n} for n in "abc"])).scalars())
    assert fresh == {"a", "c"}
    assert sorted(await names(db)) == ["a", "b", "c"]


async def test_concurrent_transactions_take_turns(db: Database) -> None:
    async def add(n: int) -> None:
        async with db.transaction() as session:
            await session.execute(insert(things), {"name": f"n{n}"})
            await asyncio.sleep(0)  # another coroutine gets the loop while this one holds the connection

    await asyncio.gather(*(add(n) for n in range(20)))
    assert len(await names(db)) == 20


async def test_every_connection_is_durable_and_checks_foreign_keys(db: Database) -> None:
    """A committed answer survives a power cut (WAL, synchronous FULL = 2); foreign keys hold."""
    async with db.engine.connect() as conn:
        settings = [
            (await conn.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        ]
    assert settings == ["wal", 2, 1]


async def test_statements_run_on_the_event_loop_thread(db: Database) -> None:
    """The point of the driver: no hop to a helper thread per statement."""
    seen: list[int] = []
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.create_function(
            "whoami", 0, lambda: seen.append(threading.get_ident()) or 1
        )  # type: ignore[union-attr]
        await conn.execute(text("SELECT whoami()"))
    assert seen == [threading.get_ident()]


async def test_another_process_holding_the_write_lock_is_waited_for(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO things (name) VALUES ('other')")
    # Released from another thread: the waiting statement blocks this loop (the busy timeout).
    release = threading.Timer(0.3, other.execute, ["COMMIT"])
    release.start()

    async with db.transaction() as session:
        await session.execute(insert(things), {"name": "ours"})
    release.join()
    other.close()
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(things)) == 2
