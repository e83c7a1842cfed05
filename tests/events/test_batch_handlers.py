"""Handlers of batches on a Core connection (`Consumer.on_batch`) and events staged on one
(`outbox.stage`), against a real Redis and real SQLite/PostgreSQL: the same exactly-once
guarantees as session handlers, in stream order, with after-commit signals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import Connection, func, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from contracts.events.erp import StockStatusChanged
from contracts.kit import outbox, signals
from contracts.kit.consumer import Consumer
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, type_of
from contracts.kit.relay import OutboxRelay
from contracts.kit.tables import inbox
from contracts.kit.tables import outbox as outbox_table
from tests.events.support import RECEIPT, drain, effects, make_event, put, record

STREAM = "events.test"


def write_effects(batch: Sequence[CloudEvent], conn: Connection) -> None:
    conn.execute(
        insert(effects),
        [{"event_id": e.id, "correlation_id": e.correlationid, "lot_id": e.data.lot_id} for e in batch],
    )


def status_changed(lot_id: str) -> CloudEvent:
    data = StockStatusChanged(
        lot_id=lot_id,
        item_id="RM-1",
        location="WH1",
        from_status=None,
        to_status="BLOCKED",
        quantity=1.0,
        txn_id="T",
    )
    return outbox.envelope("erp", lot_id, data)


def batch_consumer(
    db: Database, redis: Redis, handler: object = write_effects, **options: object
) -> Consumer:
    c = Consumer(db=db, redis=redis, group="tests", retry_delay=0.01, **options)  # type: ignore[arg-type]
    c.on_batch(RECEIPT, handler, stream=STREAM)  # type: ignore[arg-type]
    return c


async def effect_lots(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.scalars(select(effects.c.lot_id).order_by(effects.c.id))).all())


async def inbox_rows(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(inbox)) or 0)


async def test_a_batch_handler_gets_each_fresh_event_once_in_stream_order(db: Database, redis: Redis) -> None:
    calls: list[list[str]] = []

    def handler(batch: Sequence[CloudEvent], conn: Connection) -> None:
        calls.append([e.data.lot_id for e in batch])
        write_effects(batch, conn)

    sessions: list[Session] = []

    def began(session: Session, *_: object) -> None:
        sessions.append(session)

    c = batch_consumer(db, redis, handler, batch_size=10)
    await c.ensure_groups()
    first, second, third = make_event("LOT-A"), make_event("LOT-B"), make_event("LOT-C")
    for event in (first, second, first, third):  # the relay's at-least-once: `first` twice
        await put(redis, STREAM, event)
    sa_event.listen(Session, "after_begin", began)
    try:
        await drain(c)
        await put(redis, STREAM, second)  # and again in a later batch
        await drain(c)
    finally:
        sa_event.remove(Session, "after_begin", began)

    assert sessions == []  # only batch handlers: Core transactions, no ORM session at all
    assert calls == [["LOT-A", "LOT-B", "LOT-C"]]  # one call, no duplicate, none for the late copy
    assert await effect_lots(db) == ["LOT-A", "LOT-B", "LOT-C"]
    assert await inbox_rows(db) == 3
    assert (c.stats.applied, c.stats.duplicates) == (3, 2)
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def test_a_failing_batch_rolls_back_and_only_its_bad_event_is_dead_lettered(
    db: Database, redis: Redis
) -> None:
    def picky(batch: Sequence[CloudEvent], conn: Connection) -> None:
        write_effects(batch, conn)  # written before it fails: must not survive the failure
        if any(e.data.lot_id == "LOT-3" for e in batch):
            raise ValueError("no")

    c = batch_consumer(db, redis, picky, batch_size=10, max_attempts=2)
    await c.ensure_groups()
    for n in range(6):
        await put(redis, STREAM, make_event(f"LOT-{n}"))
    await drain(c)

    assert sorted(await effect_lots(db)) == ["LOT-0", "LOT-1", "LOT-2", "LOT-4", "LOT-5"]
    assert await inbox_rows(db) == 5  # the failed one left no inbox row behind
    assert c.stats.dead_lettered == 1
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def test_session_and_batch_handlers_share_a_batch_in_stream_order(db: Database, redis: Redis) -> None:
    woken: list[str] = []
    unsubscribe = signals.subscribe("tests.batch", lambda: woken.append("tests.batch"))

    def marking(batch: Sequence[CloudEvent], conn: Connection) -> None:
        write_effects(batch, conn)
        signals.notify_on_commit(conn, "tests.batch")

    async def on_status(event: CloudEvent, session: AsyncSession) -> None:
        await record(event, session)

    c = batch_consumer(db, redis, marking, batch_size=10)
    kind = status_changed("x").type
    c.on(kind, on_status, stream=STREAM)
    await c.ensure_groups()
    order = [
        make_event("R-1"),
        make_event("R-2"),
        status_changed("S-1"),
        make_event("R-3"),
        status_changed("S-2"),
    ]
    for event in order:
        await put(redis, STREAM, event)
    try:
        await drain(c)
    finally:
        unsubscribe()

    assert await effect_lots(db) == ["R-1", "R-2", "S-1", "R-3", "S-2"]
    assert await inbox_rows(db) == 5
    # The batch committed once, in the session's transaction: its mark fired once, on that commit.
    assert woken == ["tests.batch"]
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def test_marks_on_a_connection_fire_when_its_run_commits_and_never_after_a_rollback(
    db: Database,
) -> None:
    woken: list[str] = []
    unsubscribe = signals.subscribe("tests.run", lambda: woken.append("tests.run"))

    def failing(conn: Connection) -> None:
        signals.notify_on_commit(conn, "tests.run")
        raise RuntimeError("rolled back")

    try:
        with pytest.raises(RuntimeError):
            await db.run(failing)
        await db.run(lambda conn: None)  # the next run on the same pooled connection
        assert woken == []
        await db.run(lambda conn: signals.notify_on_commit(conn, "tests.run"))
        assert woken == ["tests.run"]
    finally:
        unsubscribe()


async def test_events_staged_on_a_connection_are_sent_once_and_only_if_it_commits(
    db: Database, redis: Redis
) -> None:
    relay = OutboxRelay(db, redis)
    woken: list[str] = []
    unsubscribe = signals.subscribe(outbox.SIGNAL, lambda: woken.append(outbox.SIGNAL))
    kept = [make_event("LOT-KEPT-1"), make_event("LOT-KEPT-2")]
    dropped = [make_event("LOT-DROPPED")]

    def abandoned(conn: Connection) -> None:
        outbox.stage(conn, dropped)
        raise RuntimeError("the use case failed")

    try:
        with pytest.raises(RuntimeError):
            await db.run(abandoned)
        assert woken == []
        await db.run(lambda conn: outbox.stage(conn, kept))
        assert woken == [outbox.SIGNAL]  # the relay is woken at the commit, not at its next poll
    finally:
        unsubscribe()
    while await relay.publish_pending():
        pass

    sent: Any = await redis.xrange(type_of(kept[0].data).stream)
    assert [fields[b"id"].decode() for _, fields in sent] == [e.id for e in kept]
    async with db.sessions() as session:
        unpublished = await session.scalar(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        )
    assert unpublished == 0


async def test_a_failed_batch_leaves_no_mark_behind_to_fire_on_a_later_commit(
    db: Database, redis: Redis
) -> None:
    woken: list[str] = []
    unsubscribe = signals.subscribe("tests.failed", lambda: woken.append("tests.failed"))
    attempts: list[int] = []

    def flaky(batch: Sequence[CloudEvent], conn: Connection) -> None:
        attempts.append(len(batch))
        if len(attempts) == 1:  # marks, then fails: nothing it did may count
            signals.notify_on_commit(conn, "tests.failed")
            raise ValueError("not this time")
        write_effects(batch, conn)

    async def on_status(event: CloudEvent, session: AsyncSession) -> None:
        await record(event, session)

    c = batch_consumer(db, redis, flaky, batch_size=10)
    c.on(status_changed("x").type, on_status, stream=STREAM)  # a mixed batch: the session's path
    await c.ensure_groups()
    for event in (make_event("R-1"), status_changed("S-1")):
        await put(redis, STREAM, event)
    try:
        await drain(c)
        await db.run(lambda conn: None)  # later commits on the same pooled connection
        async with db.transaction() as session:
            await session.execute(select(1))
    finally:
        unsubscribe()

    assert await effect_lots(db) == ["R-1", "S-1"]  # applied one by one after the failed batch
    assert woken == []


async def test_a_mark_on_a_connection_outside_a_run_is_dropped_with_its_checkout(db: Database) -> None:
    woken: list[str] = []
    unsubscribe = signals.subscribe("tests.stray", lambda: woken.append("tests.stray"))
    try:
        async with db.engine.connect() as conn:  # not `Database.run`: nobody fires its marks
            await conn.run_sync(lambda sync: signals.notify_on_commit(sync, "tests.stray"))
        await db.run(lambda conn: None)
    finally:
        unsubscribe()
    assert woken == []


async def test_a_run_whose_connection_died_raises_its_own_error_without_connecting_again(
    db: Database,
) -> None:
    connects: list[int] = []
    sa_event.listen(db.engine.sync_engine, "connect", lambda *_: connects.append(1))
    await db.run(lambda conn: None)
    before = len(connects)

    def lost(conn: Connection) -> None:
        conn.invalidate()  # as a dropped database connection leaves it
        raise ConnectionResetError("the database went away")

    with pytest.raises(ConnectionResetError, match="went away"):
        await db.run(lost)
    assert len(connects) == before
