"""Consumer runtime against a real Redis and real SQLite/PostgreSQL: dedupe, retries, dead letters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit import operations, outbox
from contracts.kit.consumer import Consumer, running
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, decode
from contracts.kit.relay import OutboxRelay, raise_if_cancelled, stop_tasks
from contracts.kit.relay import running as relay_running
from contracts.kit.tables import inbox
from contracts.kit.tables import outbox as outbox_table
from tests.events.support import RECEIPT, drain, effect_count, effects, make_event, put, record
from tests.support.wait import eventually

STREAM = "events.test"


def consumer(db: Database, redis: Redis, **options: object) -> Consumer:
    c = Consumer(db=db, redis=redis, group="tests", claim_idle_ms=60_000, retry_delay=0.01, **options)  # type: ignore[arg-type]
    c.on(RECEIPT, record, stream=STREAM)
    return c


async def test_same_event_delivered_twice_has_one_effect(db: Database, redis: Redis) -> None:
    c = consumer(db, redis)
    await c.ensure_groups()
    event = make_event("LOT-DUP")
    other = make_event("LOT-OTHER")
    await put(redis, STREAM, event)
    await put(redis, STREAM, other)
    await put(redis, STREAM, event)  # the relay's at-least-once: same event id again
    await drain(c)
    await put(redis, STREAM, event)  # and once more in a later batch
    await drain(c)

    assert await effect_count(db, event.id) == 1
    assert await effect_count(db, other.id) == 1
    assert c.stats.applied == 2
    assert c.stats.duplicates == 2
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def seen(db: Database) -> set[str]:
    async with db.sessions() as session:
        return set((await session.scalars(select(inbox.c.event_id))).all())


async def test_purging_the_inbox_keeps_rows_a_pending_message_may_still_need(
    db: Database, redis: Redis
) -> None:
    c = consumer(db, redis)
    await c.ensure_groups()
    long_ago = datetime.now(UTC) - timedelta(days=8)
    ms = int(long_ago.timestamp() * 1000)
    held, old, fresh = make_event("LOT-HELD"), make_event("LOT-OLD"), make_event("LOT-NEW")
    held_entry = await put(redis, STREAM, held, entry_id=f"{ms}-0")
    await put(redis, STREAM, old, entry_id=f"{ms}-1")
    # A consumer applied `held` eight days ago and died before its XACK: pending, inbox row kept.
    await redis.xreadgroup("tests", "crashed", {STREAM: ">"}, count=1)
    await put(redis, STREAM, fresh)
    await drain(c)
    async with db.transaction() as session:
        await session.execute(insert(inbox).values(consumer="tests", event_id=held.id, processed_at=long_ago))
        await session.execute(update(inbox).where(inbox.c.event_id == old.id).values(processed_at=long_ago))

    assert await c.purge_seen() == 0  # `old` is past the retention, but no older than `held`
    assert await seen(db) == {held.id, old.id, fresh.id}

    await redis.xack(STREAM, "tests", held_entry)
    assert await c.purge_seen() == 2
    assert await seen(db) == {fresh.id}


async def test_handler_runs_under_the_event_correlation_and_staged_events_carry_it(
    db: Database, redis: Redis
) -> None:
    async def forward(event: CloudEvent, session: AsyncSession) -> None:
        await record(event, session)
        await outbox.publish(session, "test", event.subject, event.data)

    c = Consumer(db=db, redis=redis, group="tests")
    c.on(RECEIPT, forward, stream=STREAM)
    await c.ensure_groups()
    event = make_event("LOT-CORR", correlation_id="corr-abc-123")
    await put(redis, STREAM, event)
    await drain(c)

    async with db.sessions() as session:
        seen = (await session.execute(select(effects.c.correlation_id))).scalars().all()
        staged = (await session.execute(select(outbox_table.c.payload))).scalars().all()
    assert seen == ["corr-abc-123"]
    assert len(staged) == 1
    child = decode(staged[0])
    assert child.correlationid == "corr-abc-123"
    assert child.causationid == event.id
    assert child.traceparent.split("-")[1] == event.traceparent.split("-")[1]  # same trace


async def test_unknown_types_and_other_streams_are_acked_and_skipped(db: Database, redis: Redis) -> None:
    c = consumer(db, redis)
    await c.ensure_groups()
    await redis.xadd(STREAM, {"id": "x-1", "type": "erp.unknown.thing.v1", "event": b"{}"})
    event = make_event("LOT-KNOWN")
    await put(redis, STREAM, event)
    await drain(c)
    assert c.stats.skipped == 1
    assert await effect_count(db) == 1
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def test_poison_message_is_dead_lettered_after_n_tries_and_replay_after_fix_applies(
    db: Database, redis: Redis
) -> None:
    broken = True
    calls = 0

    async def fragile(event: CloudEvent, session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        if broken and event.data.lot_id == "LOT-POISON":
            raise ValueError("cannot handle lot LOT-POISON")
        await record(event, session)

    c = Consumer(db=db, redis=redis, group="tests", max_attempts=3, retry_delay=0.01)
    c.on(RECEIPT, fragile, stream=STREAM)
    await c.ensure_groups()
    before = make_event("LOT-A")
    poison = make_event("LOT-POISON", correlation_id="corr-poison")
    after = make_event("LOT-B")
    for event in (before, poison, after):
        await put(redis, STREAM, event)
    await drain(c)

    # The good neighbours are applied, the poison one is parked after exactly 3 attempts.
    assert await effect_count(db) == 2
    assert await effect_count(db, poison.id) == 0
    assert c.stats.dead_lettered == 1
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0
    page = await operations.dead_letters(redis, STREAM)
    assert len(page.items) == 1
    letter = page.items[0]
    assert letter.event_id == poison.id
    assert letter.attempts == 3
    assert letter.group == "tests"
    assert "ValueError: cannot handle lot LOT-POISON" in letter.error
    assert letter.original_entry_id
    assert letter.event["correlationid"] == "corr-poison"
    stats = await operations.stream_stats(redis, STREAM)
    assert stats.dead_letters == 1
    assert stats.groups[0].pending == 0

    broken = False  # the fix is deployed
    replayed = await operations.replay(redis, STREAM, letter.dead_letter_id)
    assert replayed is not None
    assert replayed.event_id == poison.id
    await drain(c)

    assert await effect_count(db, poison.id) == 1
    async with db.sessions() as session:
        corr = await session.scalar(select(effects.c.correlation_id).where(effects.c.event_id == poison.id))
    assert corr == "corr-poison"  # the replay kept the original event id and correlation
    assert (await operations.dead_letters(redis, STREAM)).items == []
    assert (await redis.xpending(STREAM, "tests"))["pending"] == 0


async def test_replay_goes_only_to_the_group_that_failed(db: Database, redis: Redis) -> None:
    failing = Consumer(db=db, redis=redis, group="failing", max_attempts=1, retry_delay=0.01)
    calls = {"failing": 0, "healthy": 0}

    async def fail(event: CloudEvent, session: AsyncSession) -> None:
        calls["failing"] += 1
        if calls["failing"] == 1:
            raise RuntimeError("first time fails")

    async def fine(event: CloudEvent, session: AsyncSession) -> None:
        calls["healthy"] += 1

    failing.on(RECEIPT, fail, stream=STREAM)
    healthy = Consumer(db=db, redis=redis, group="healthy")
    healthy.on(RECEIPT, fine, stream=STREAM)
    for c in (failing, healthy):
        await c.ensure_groups()
    await put(redis, STREAM, make_event("LOT-G"))
    await drain(failing)
    await drain(healthy)
    assert calls == {"failing": 1, "healthy": 1}

    done = await operations.replay_all(redis, STREAM)
    assert [r.group for r in done] == ["failing"]
    await drain(failing)
    await drain(healthy)
    assert calls == {"failing": 2, "healthy": 1}
    assert healthy.stats.skipped == 1


async def test_a_failure_inside_a_batch_does_not_hold_back_the_others(db: Database, redis: Redis) -> None:
    async def picky(event: CloudEvent, session: AsyncSession) -> None:
        if event.data.lot_id == "LOT-3":
            raise ValueError("no")
        await record(event, session)

    c = Consumer(db=db, redis=redis, group="tests", max_attempts=2, retry_delay=0.01, batch_size=10)
    c.on(RECEIPT, picky, stream=STREAM)
    await c.ensure_groups()
    for n in range(6):
        await put(redis, STREAM, make_event(f"LOT-{n}"))
    await drain(c)
    assert await effect_count(db) == 5
    assert c.stats.dead_lettered == 1
    async with db.sessions() as session:
        seen = await session.scalar(select(func.count()).select_from(inbox))
    assert seen == 5  # the failed one left no inbox row behind


async def test_undecodable_message_goes_straight_to_dead_letters(db: Database, redis: Redis) -> None:
    c = consumer(db, redis)
    await c.ensure_groups()
    await redis.xadd(STREAM, {"id": "bad-1", "type": RECEIPT, "event": b"{not json"})
    await drain(c)
    letters = (await operations.dead_letters(redis, STREAM)).items
    assert [letter.event_id for letter in letters] == ["bad-1"]
    assert letters[0].error.startswith("undecodable")
    assert letters[0].event is None


async def test_consumer_loop_runs_and_stops(db: Database, redis: Redis) -> None:
    c = consumer(db, redis)
    event = make_event("LOT-LOOP")
    async with running(c):
        await put(redis, STREAM, event)
        await eventually(lambda: _has_effect(db, event.id), what="the event to be applied")
    assert c.stats.applied == 1


async def _has_effect(db: Database, event_id: str) -> bool:
    return await effect_count(db, event_id) == 1


async def test_workers_stop_promptly_even_if_a_cancel_gets_lost(db: Database, redis: Redis) -> None:
    # On Python 3.11 redis-py sends each command under asyncio.wait_for, which drops a
    # cancellation that lands as the send completes; worker loops must stop all the same.
    # The limit below only guards against a hang.
    async def pinging() -> None:
        while True:
            raise_if_cancelled()
            await redis.ping()

    async with asyncio.timeout(120):
        for _ in range(20):
            task = asyncio.create_task(pinging())
            await asyncio.sleep(0.005)
            await stop_tasks([task])
            assert task.cancelled()
        for round_no in range(10):
            c = Consumer(db=db, redis=redis, group="tests", block_ms=5, claim_idle_ms=100)
            c.on(RECEIPT, record, stream=STREAM)
            async with running(c), relay_running(OutboxRelay(db, redis, poll_interval=0.01)):
                await put(redis, STREAM, make_event(f"LOT-STOP-{round_no}"))
                await asyncio.sleep(0.002 * round_no)
