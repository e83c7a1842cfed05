"""The records mechanism's events and reads on real SQLite and PostgreSQL: an event staged about a
record takes its fields from the record by attribute name and lands in the outbox with the
transaction; a status change says where from, where to and by which action; a reader answers a
record as its view or 404; a list of the records kept under another answers only those, or 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import msgspec
import pytest
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.events import cmms as ev
from contracts.kit import tables
from contracts.kit.paging import PageQuery
from contracts.kit.problems import NotFound
from contracts.kit.records import RecordMixin
from contracts.kit.repository import announce, insert, lister_of, move, reader, to_wire
from tests.support.fixtures import DatabaseUrl


class Base(DeclarativeBase):
    pass


class WidgetRow(RecordMixin, Base):
    __tablename__ = "widgets"
    site: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))


class NoteRow(RecordMixin, Base):
    __tablename__ = "widget_notes"
    widget_id: Mapped[str] = mapped_column(String(64))


class Widget(msgspec.Struct, kw_only=True):
    widget_id: str
    site: str
    status: str
    version: int


@pytest.fixture
async def session(backend: str, database_url: DatabaseUrl) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(database_url(backend, f"kit_record_events_{backend}"))
    async with engine.begin() as conn:
        for metadata in (Base.metadata, tables.metadata):
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        yield s
    await engine.dispose()


async def _staged(session: AsyncSession) -> list[tuple[str, str, dict[str, object]]]:
    rows = (await session.execute(select(tables.outbox).order_by(tables.outbox.c.seq))).all()
    return [(r.type, r.subject, msgspec.json.decode(r.payload)["data"]) for r in rows]


async def test_an_event_takes_the_record_fields_by_name_and_commits_with_it(session: AsyncSession) -> None:
    asset = SimpleNamespace(id="A-1", site="P1", status="down", work_order_id="WO-9")
    await announce(
        session,
        "/test",
        asset,
        ev.AssetStatusChanged,
        asset_id=asset.id,
        from_status="in_service",
        to_status="down",
        action="down",
    )
    await announce(
        session,
        "/test",
        asset,
        ev.AssetStatusChanged,
        subject="P1/A-1",
        asset_id=asset.id,
        site="P2",  # a field given wins over the record's attribute of that name
        from_status="down",
        to_status="under_maintenance",
        action="start_maintenance",
        work_order_id=None,
    )
    await session.commit()
    assert await _staged(session) == [
        (
            "cmms.asset.status_changed.v1",
            "A-1",
            {
                "asset_id": "A-1",
                "site": "P1",
                "from_status": "in_service",
                "to_status": "down",
                "action": "down",
                "work_order_id": "WO-9",
            },
        ),
        (
            "cmms.asset.status_changed.v1",
            "P1/A-1",
            {
                "asset_id": "A-1",
                "site": "P2",
                "from_status": "down",
                "to_status": "under_maintenance",
                "action": "start_maintenance",
                "work_order_id": None,
            },
        ),
    ]


async def test_an_event_staged_in_a_rolled_back_transaction_is_not_kept(session: AsyncSession) -> None:
    asset = SimpleNamespace(id="A-2", site="P1", work_order_id=None)
    await announce(
        session,
        "/test",
        asset,
        ev.AssetStatusChanged,
        asset_id="A-2",
        from_status="a",
        to_status="b",
        action="c",
    )
    await session.rollback()
    assert await _staged(session) == []


async def test_a_transition_names_status_before_status_now_and_action(session: AsyncSession) -> None:
    asset = SimpleNamespace(id="A-3", site="P1", status="down", work_order_id=None)
    await move(
        session,
        "/test",
        asset,
        ev.AssetStatusChanged,
        "under_maintenance",
        "start_maintenance",
        asset_id=asset.id,
    )
    assert asset.status == "under_maintenance"
    await session.commit()
    [(_type, subject, data)] = await _staged(session)
    assert (subject, data["from_status"], data["to_status"], data["action"]) == (
        "A-3",
        "down",
        "under_maintenance",
        "start_maintenance",
    )


async def test_a_move_stores_the_record_its_own_way_before_the_event_is_staged(
    session: AsyncSession,
) -> None:
    # Records kept on the Core path are stored by `save`, not by a flush of the ORM session.
    stored: list[tuple[str, int]] = []

    async def save(s: AsyncSession, row: SimpleNamespace) -> None:
        stored.append((row.status, len(await _staged(s))))

    asset = SimpleNamespace(id="A-4", site="P1", status="down", work_order_id=None)
    await move(session, "/test", asset, ev.AssetStatusChanged, "up", "restore", save=save, asset_id="A-4")
    await session.commit()
    assert stored == [("up", 0)]  # saved once, in its new status, before its event
    [(_type, _subject, data)] = await _staged(session)
    assert (data["from_status"], data["to_status"]) == ("down", "up")


async def test_a_reader_answers_the_record_as_its_view_or_404(session: AsyncSession) -> None:
    await insert(session, WidgetRow(id="W-1", site="P1", status="new"))
    await session.commit()
    read = reader(WidgetRow, "widget", lambda row: to_wire(row, Widget, widget_id=row.id))
    assert await read(session, "W-1") == Widget(widget_id="W-1", site="P1", status="new", version=1)
    with pytest.raises(NotFound) as missing:
        await read(session, "W-2")
    assert missing.value.slug == "widget-not-found"


async def test_a_list_of_the_records_under_another_answers_only_those_or_404(session: AsyncSession) -> None:
    for widget_id in ("W-1", "W-2"):
        await insert(session, WidgetRow(id=widget_id, site="P1", status="new"))
    for note_id, widget_id in (("N-1", "W-1"), ("N-2", "W-2"), ("N-3", "W-1")):
        await insert(session, NoteRow(id=note_id, widget_id=widget_id))
    await session.commit()
    notes = lister_of(WidgetRow, "widget", NoteRow, lambda row: row.id, "widget_id")
    page = await notes(session, "W-1", PageQuery(limit=10))
    assert sorted(page.items) == ["N-1", "N-3"]
    with pytest.raises(NotFound) as missing:
        await notes(session, "W-9", PageQuery(limit=10))
    assert missing.value.slug == "widget-not-found"
