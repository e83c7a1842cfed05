"""Reading a service's own database from a test, to check what a request did or did not write;
and a database of a few tables for a test of the kernel's database mechanisms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import MetaData, text

from contracts.kit.db import Database
from contracts.kit.envelope import decode


@asynccontextmanager
async def database_of(database_url: str, *tables: MetaData) -> AsyncIterator[Database]:
    """A `Database` at `database_url` with `tables` created in it, disposed of afterwards."""
    database = Database(database_url)
    async with database.engine.begin() as conn:
        for metadata in tables:
            await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


async def rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await db.dispose()


async def count(database_url: str, table: str) -> int:
    result = await rows(database_url, f"SELECT count(*) FROM {table}")
    return int(result[0][0])


async def events(database_url: str, subject: str) -> list[tuple[str, Any]]:
    """The events a service staged in its outbox about one record, oldest first: (type, data)."""
    staged = await rows(
        database_url, "SELECT type, payload FROM kit_outbox WHERE subject = :s ORDER BY seq", s=subject
    )
    return [(r.type, msgspec.to_builtins(decode(bytes(r.payload)).data)) for r in staged]
