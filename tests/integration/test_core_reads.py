"""One record read by id (`repository.reader`) runs on SQLAlchemy Core (contracts/kit/core_records.py
`load`), not the ORM's `Session.get`. It must still read what the same transaction changed on the
ORM and has not flushed yet, as the ORM's own queries do (autoflush), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from contracts.kit import repository
from contracts.kit.db import Database
from contracts.kit.problems import NotFound
from system_apis.erp import store as s
from tests.support.db import database_of


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    async with database_of(
        database_url(backend, f"core_reads_{uuid.uuid4().hex[:10]}"), s.Base.metadata
    ) as database:
        yield database


def _item(item_id: str) -> s.ItemRow:
    return s.ItemRow(
        id=item_id,
        version=1,
        description="steel bar",
        item_type="raw_material",
        base_uom="EA",
        lot_tracked=True,
        inspection_required=True,
    )


def _described(row: s.ItemRow) -> tuple[str, str, int]:
    return row.id, row.description, row.version


read_item = repository.reader(s.ItemRow, "item", _described)


async def test_a_read_by_id_sees_what_its_transaction_has_not_flushed_yet(db: Database) -> None:
    async with db.transaction() as session:
        session.add(_item("RM-1"))  # pending: not yet written
        assert await read_item(session, "RM-1") == ("RM-1", "steel bar", 1)
    async with db.transaction() as session:
        row = await session.get(s.ItemRow, "RM-1")
        assert row is not None
        row.description = "steel bar, cut"  # changed on the ORM, not flushed
        assert (await read_item(session, "RM-1"))[1] == "steel bar, cut"
    async with db.transaction() as session:
        assert await read_item(session, "RM-1") == ("RM-1", "steel bar, cut", 2)
        with pytest.raises(NotFound, match="item RM-2 does not exist"):
            await read_item(session, "RM-2")
