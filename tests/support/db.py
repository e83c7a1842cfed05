"""Reading a service's own database from a test, to check what a request did or did not write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from contracts.kit.db import Database


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
