"""The kit's records mechanism on real SQLite and PostgreSQL: timestamps read back aware in UTC,
rows convert to wire types by attribute name, and the repository's 404/409/412 answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import msgspec
import pytest
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.paging import PageQuery
from contracts.kit.problems import Conflict, NotFound, PreconditionFailed
from contracts.kit.records import RecordMixin, UTCDateTime
from contracts.kit.repository import absent_or_409, get_versioned, list_page, to_row, to_wire
from tests.support.fixtures import DatabaseUrl


class Base(DeclarativeBase):
    pass


class GadgetRow(RecordMixin, Base):
    __tablename__ = "gadgets"
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GadgetStatus(StrEnum):
    NEW = "new"


class Gadget(msgspec.Struct, kw_only=True):
    gadget_id: str
    status: GadgetStatus
    due_at: datetime | None
    allowed_actions: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


class GadgetCreate(msgspec.Struct, kw_only=True):
    gadget_id: str
    status: GadgetStatus = GadgetStatus.NEW
    due_at: datetime | None = None
    colour: str = "red"  # no column of that name: not stored


@pytest.fixture
async def session(backend: str, database_url: DatabaseUrl) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(database_url(backend, f"kit_records_{backend}"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        yield s
    await engine.dispose()


async def _reread(session: AsyncSession, gadget_id: str) -> GadgetRow:
    session.expunge_all()
    row = await session.get(GadgetRow, gadget_id)
    assert row is not None
    return row


async def test_timestamps_read_back_aware_in_utc(session: AsyncSession) -> None:
    due = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    session.add(GadgetRow(id="G-1", status="new", due_at=due))
    await session.commit()
    row = await _reread(session, "G-1")
    assert row.due_at is not None
    assert row.due_at.utcoffset() == timedelta(0)
    assert row.due_at == due
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)
    assert msgspec.json.encode(row.due_at) == b'"2026-03-01T07:30:00Z"'


async def test_a_row_converts_to_its_wire_type_with_renamed_and_derived_fields(session: AsyncSession) -> None:
    session.add(GadgetRow(id="G-2", status="new"))
    await session.commit()
    row = await _reread(session, "G-2")
    wire = to_wire(row, Gadget, gadget_id=row.id, allowed_actions=["start"])
    assert wire.gadget_id == "G-2"
    assert wire.status is GadgetStatus.NEW
    assert wire.due_at is None
    assert wire.allowed_actions == ["start"]
    assert wire.version == 1
    assert wire.updated_at.tzinfo is UTC


async def test_create_refuses_a_taken_id_and_update_a_stale_version(session: AsyncSession) -> None:
    await absent_or_409(session, GadgetRow, "G-3", "gadget")
    session.add(GadgetRow(id="G-3", status="new"))
    await session.commit()
    with pytest.raises(Conflict) as taken:
        await absent_or_409(session, GadgetRow, "G-3", "gadget")
    assert taken.value.slug == "gadget-exists"
    with pytest.raises(PreconditionFailed):
        await get_versioned(session, GadgetRow, "G-3", "gadget", '"7"')
    with pytest.raises(NotFound):
        await get_versioned(session, GadgetRow, "G-4", "gadget", None)
    row = await get_versioned(session, GadgetRow, "G-3", "gadget", '"1"')
    row.status = "done"
    await session.commit()
    assert (await _reread(session, "G-3")).version == 2


async def test_a_page_is_a_delta_since_a_moment(session: AsyncSession) -> None:
    session.add(GadgetRow(id="G-5", status="new"))
    await session.commit()
    since = datetime.now(UTC)
    session.add(GadgetRow(id="G-6", status="new"))
    await session.commit()
    session.expunge_all()

    def convert(row: GadgetRow) -> str:
        return row.id

    everything = await list_page(session, GadgetRow, convert, PageQuery(limit=10))
    assert everything.items == ["G-5", "G-6"]
    delta = await list_page(session, GadgetRow, convert, PageQuery(limit=10, updated_since=since))
    assert delta.items == ["G-6"]


async def test_a_page_filters_by_the_columns_asked_for_and_refuses_a_column_it_lacks(
    session: AsyncSession,
) -> None:
    session.add_all([GadgetRow(id="G-8", status="new"), GadgetRow(id="G-9", status="done")])
    await session.commit()

    def convert(row: GadgetRow) -> str:
        return row.id

    asked = await list_page(session, GadgetRow, convert, PageQuery(limit=10), status="done")
    assert asked.items == ["G-9"]
    absent = await list_page(session, GadgetRow, convert, PageQuery(limit=10), status=None)
    assert absent.items == ["G-8", "G-9"]
    # A misspelt column fails even when the request did not carry that filter.
    with pytest.raises(KeyError, match="stauts"):
        await list_page(session, GadgetRow, convert, PageQuery(limit=10), stauts=None)


async def test_a_row_is_made_from_a_create_body_by_column_name(session: AsyncSession) -> None:
    due = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    row = to_row(GadgetRow, GadgetCreate(gadget_id="G-7", due_at=due), id="G-7")
    session.add(row)
    await session.commit()
    stored = await _reread(session, "G-7")
    assert (stored.status, stored.due_at) == ("new", due)
    assert not hasattr(stored, "colour")
