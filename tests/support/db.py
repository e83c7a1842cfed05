"""Reading a service's own database from a test, to check what a request did or did not write."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import text

from contracts.kit.db import Database
from contracts.kit.envelope import decode


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
