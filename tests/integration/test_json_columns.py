"""JSON columns are written and read with msgspec (contracts/kit/db.py) and take what the json
module took: subclasses of str, int and float (id types such as ERP's `Operation`) as their plain
values, on SQLite and PostgreSQL; what is not JSON is refused, not stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError

from contracts.kit.db import Database
from tests.support.db import database_of

documents = Table("json_documents", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))


class OrderKey(str):
    """An id type, as the services declare them."""


class Count(int):
    pass


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    async with database_of(
        database_url(backend, f"json_{uuid.uuid4().hex[:10]}"), documents.metadata
    ) as database:
        yield database


async def test_json_columns_keep_plain_values_of_subclasses(db: Database) -> None:
    written = {"op": OrderKey("4f2a"), "count": Count(3), "items": [1, 2.5, True, None], "nested": {"a": "é"}}
    await db.run(lambda conn: conn.execute(documents.insert(), {"id": 1, "doc": written}))
    read = await db.run(lambda conn: conn.execute(select(documents.c.doc)).scalar_one())
    assert read == {"op": "4f2a", "count": 3, "items": [1, 2.5, True, None], "nested": {"a": "é"}}
    assert type(read["op"]) is str


async def test_what_is_not_json_is_refused_and_nothing_stored(db: Database) -> None:
    with pytest.raises(StatementError, match="not JSON serializable"):
        await db.run(lambda conn: conn.execute(documents.insert(), {"id": 2, "doc": {"at": object()}}))
    assert await db.run(lambda conn: conn.execute(select(documents.c.id)).all()) == []
