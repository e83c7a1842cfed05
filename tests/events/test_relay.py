"""Outbox relay against a real Redis and real SQLite/PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from contracts.kit import outbox
from contracts.kit.db import Database
from contracts.kit.envelope import decode
from contracts.kit.relay import FIELD_EVENT, FIELD_ID, OutboxRelay, running
from contracts.kit.tables import outbox as outbox_table
from plantbridge.processes import RedisServer
from tests.events.support import receipt
from tests.support.wait import eventually

STREAM = "events.erp"


async def stage(db: Database, lots: list[str]) -> list[str]:
    """One transaction per call, like one API request; returns the event ids in order."""
    async with db.transaction() as session:
        return [(await outbox.publish(session, "erp", f"GR-{lot}", receipt(lot))).id for lot in lots]


async def stream_ids(redis: Redis, stream: str = STREAM) -> list[str]:
    entries: Any = await redis.xrange(stream)
    return [fields[FIELD_ID.encode()].decode() for _, fields in entries]


async def unpublished(db: Database) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        return int(await session.scalar(query) or 0)


async def test_publishes_in_outbox_order_once_and_marks_rows(db: Database, redis: Redis) -> None:
    staged: list[str] = []
    for n in range(6):
        staged += await stage(db, [f"L{n}-{k}" for k in range(5)])
    relay = OutboxRelay(db, redis, batch_size=7)
    while await relay.publish_pending():
        pass

    assert await stream_ids(redis) == staged
    assert await unpublished(db) == 0
    assert await relay.publish_pending() == 0  # nothing goes out twice
    assert await redis.xlen(STREAM) == 30
    entries: Any = await redis.xrange(STREAM, count=1)
    event = decode(entries[0][1][FIELD_EVENT.encode()])
    assert event.id == staged[0]
    assert event.data.lot_id == "L0-0"


async def test_rows_sent_but_not_marked_before_a_crash_are_not_sent_again(db: Database, redis: Redis) -> None:
    staged = await stage(db, ["A", "B", "C", "D"])
    # A relay that crashed between XADD and marking: A and B are on the stream, unmarked.
    crashed = OutboxRelay(db, redis)
    async with db.sessions() as session:
        rows = (await session.execute(select(outbox_table).order_by(outbox_table.c.seq).limit(2))).all()
    crashed._uncertain = False
    await crashed._send(rows)

    restarted = OutboxRelay(db, redis)
    assert await restarted.publish_pending() == 4
    assert await restarted.publish_pending() == 0  # nothing twice; on SQLite this pass marks them
    assert await stream_ids(redis) == staged  # A and B once, C and D after them
    assert await unpublished(db) == 0


async def test_a_commit_wakes_the_relay_without_waiting_for_the_poll(db: Database, redis: Redis) -> None:
    relay = OutboxRelay(db, redis, poll_interval=3600)  # only a wake-up can publish in this test
    async with running(relay):
        await asyncio.sleep(0)  # let it subscribe and finish its first (empty) pass
        await eventually(lambda: _idle(relay), what="the relay's first pass")
        staged = await stage(db, ["WAKE"])
        await eventually(lambda: _on_stream(redis, staged), what="the event on the stream")


async def drain(relay: OutboxRelay) -> None:
    """Publish until nothing is pending, and mark what the last pass sent."""
    while await relay.publish_pending():
        pass
    await relay.flush_marks()


async def test_a_maxlen_trims_the_stream_approximately_keeping_the_newest(db: Database, redis: Redis) -> None:
    staged: list[str] = []
    for n in range(10):
        staged += await stage(db, [f"M{n}-{k}" for k in range(50)])
    await drain(OutboxRelay(db, redis, maxlen=100))
    kept = await stream_ids(redis)
    # "~" trims whole stream nodes (100 entries each): at least 100 stay, never all 500.
    assert 100 <= len(kept) < 500
    assert kept == staged[-len(kept) :]


async def test_trimming_keeps_every_entry_a_group_has_not_acknowledged(db: Database, redis: Redis) -> None:
    relay = OutboxRelay(db, redis, retention=timedelta(0))  # age alone would allow trimming all
    staged = await stage(db, [f"T{n}" for n in range(6)])
    await drain(relay)
    ids = [entry_id for entry_id, _ in await redis.xrange(STREAM)]
    for group in ("done", "behind"):
        await redis.xgroup_create(STREAM, group, id="0")
    await redis.xreadgroup("done", "c", {STREAM: ">"})
    await redis.xack(STREAM, "done", *ids)
    await redis.xreadgroup("behind", "c", {STREAM: ">"}, count=3)
    await redis.xack(STREAM, "behind", ids[0])  # the 2nd and 3rd stay pending

    assert await relay.trim_streams() == 1
    assert await stream_ids(redis) == staged[1:]

    await redis.xack(STREAM, "behind", ids[1], ids[2])
    assert await relay.trim_streams() == 2
    assert await stream_ids(redis) == staged[3:]  # never given to "behind": kept


async def test_trimming_keeps_the_retention_window_and_what_a_new_group_has_not_read(
    db: Database, redis: Redis
) -> None:
    staged = await stage(db, ["W1", "W2"])
    await drain(OutboxRelay(db, redis))
    await redis.xgroup_create(STREAM, "done", id="0")
    await redis.xreadgroup("done", "c", {STREAM: ">"})
    await redis.xack(STREAM, "done", *[entry_id for entry_id, _ in await redis.xrange(STREAM)])
    assert await OutboxRelay(db, redis).trim_streams() == 0  # acknowledged, but inside 7 days

    await redis.xgroup_create(STREAM, "new", id="0")  # has read nothing yet
    assert await OutboxRelay(db, redis, retention=timedelta(0)).trim_streams() == 0
    assert await stream_ids(redis) == staged


async def test_flush_marks_marks_what_the_last_pass_sent(db: Database, redis: Redis) -> None:
    await stage(db, ["A", "B"])
    relay = OutboxRelay(db, redis)
    assert await relay.publish_pending() == 2
    # SQLite defers the marks to the next pass; PostgreSQL marks inside the pass.
    assert await unpublished(db) == (2 if db.is_sqlite else 0)
    await relay.flush_marks()
    assert await unpublished(db) == 0
    assert await relay.publish_pending() == 0


async def test_sent_rows_are_marked_by_the_next_poll_and_on_shutdown(db: Database, redis: Redis) -> None:
    polling = OutboxRelay(db, redis, poll_interval=0.05)
    async with running(polling):
        staged = await stage(db, ["POLLED"])
        await eventually(lambda: _on_stream(redis, staged), what="the event on the stream")
        await eventually(lambda: _all_published(db), what="the row marked with no further commit")

    sleeping = OutboxRelay(db, redis, poll_interval=3600)  # no poll: only the shutdown can mark
    async with running(sleeping):
        staged += await stage(db, ["LAST"])
        await eventually(lambda: _on_stream(redis, staged), what="the last event on the stream")
    assert await unpublished(db) == 0
    assert await OutboxRelay(db, redis).publish_pending() == 0  # a restart sends nothing again


async def test_a_rolled_back_transaction_publishes_nothing(db: Database, redis: Redis) -> None:
    with contextlib.suppress(RuntimeError):
        async with db.transaction() as session:
            await outbox.publish(session, "erp", "GR-X", receipt("X"))
            raise RuntimeError("use case failed")
    relay = OutboxRelay(db, redis)
    assert await relay.publish_pending() == 0
    assert await redis.xlen(STREAM) == 0


async def test_events_staged_in_a_rolled_back_savepoint_are_not_published(db: Database, redis: Redis) -> None:
    async with db.transaction() as session:
        kept = await outbox.publish(session, "erp", "GR-KEPT", receipt("KEPT"))
        with contextlib.suppress(RuntimeError):
            async with session.begin_nested():
                await outbox.publish(session, "erp", "GR-UNDONE", receipt("UNDONE"))
                raise RuntimeError("this part of the use case failed")
        after = await outbox.publish(session, "erp", "GR-AFTER", receipt("AFTER"))
    relay = OutboxRelay(db, redis)
    assert await relay.publish_pending() == 2
    assert await stream_ids(redis) == [kept.id, after.id]


async def test_a_session_closed_without_commit_publishes_nothing_later(db: Database, redis: Redis) -> None:
    async with db.sessions() as session:
        await outbox.publish(session, "erp", "GR-DROPPED", receipt("DROPPED"))
        await session.close()
        # The same session object used again must not carry the dropped event into this commit.
        committed = await outbox.publish(session, "erp", "GR-LATER", receipt("LATER"))
        await session.commit()
    relay = OutboxRelay(db, redis)
    assert await relay.publish_pending() == 1
    assert await stream_ids(redis) == [committed.id]


async def test_redis_down_the_relay_backs_off_and_publishes_when_it_is_back(
    db: Database, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    redis = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=2)
    relay = OutboxRelay(db, redis, max_backoff=0.2)
    try:
        server.stop()
        async with running(relay):
            staged = await stage(db, ["DOWN-1", "DOWN-2"])
            staged += await stage(db, ["DOWN-3"])
            await eventually(lambda: _attempted(relay), what="the relay to try and fail")
            assert await unpublished(db) == 3
            await asyncio.to_thread(server.start)
            await eventually(lambda: _all_published(db), what="the backlog to be published")
        assert await stream_ids(redis) == staged
    finally:
        await redis.aclose()
        server.stop()


async def test_two_relays_on_one_postgres_database_never_interleave(
    backend: str, db: Database, redis: Redis
) -> None:
    if backend != "postgres":
        pytest.skip("one process owns a SQLite file; replicas share PostgreSQL")
    staged: list[str] = []
    for n in range(20):
        staged += await stage(db, [f"R{n}-{k}" for k in range(5)])
    first, second = OutboxRelay(db, redis, batch_size=10), OutboxRelay(db, redis, batch_size=10)

    async def drain(relay: OutboxRelay) -> None:
        while await unpublished(db):
            await relay.publish_pending()

    await asyncio.gather(drain(first), drain(second))
    assert await stream_ids(redis) == staged


async def _idle(relay: OutboxRelay) -> bool:
    return relay._wake is not None and not relay._wake.is_set()


async def _on_stream(redis: Redis, ids: list[str]) -> bool:
    return await stream_ids(redis) == ids


async def _attempted(relay: OutboxRelay) -> bool:
    return relay.failures > 0


async def _all_published(db: Database) -> bool:
    return await unpublished(db) == 0
