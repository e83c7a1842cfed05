"""The relay's marks on SQLite: rows sent wait to be marked together (`MARK_EVERY`), and in
between no pass, failure or restart sends one again or leaves one out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from contracts.kit.db import Database
from contracts.kit.relay import MARK_EVERY, OutboxRelay
from plantbridge.processes import RedisServer
from tests.events.test_relay import stage, stream_ids, unpublished


async def test_rows_waiting_for_their_mark_are_not_sent_again(db: Database, redis: Redis) -> None:
    relay = OutboxRelay(db, redis)
    staged: list[str] = []
    for n in range(3):
        staged += await stage(db, [f"W{n}-{k}" for k in range(4)])
        assert await relay.publish_pending() == 4  # this transaction's rows, not the earlier ones
    assert await stream_ids(redis) == staged
    assert await unpublished(db) == (12 if db.is_sqlite else 0)
    assert await relay.publish_pending() == 0  # a pass that finds nothing new marks them
    assert await unpublished(db) == 0
    assert await stream_ids(redis) == staged


async def test_marks_are_written_once_mark_every_rows_wait(db: Database, redis: Redis) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL marks each pass in its own transaction")
    per_pass = MARK_EVERY // 4 + 1  # four passes cross MARK_EVERY, three do not
    relay = OutboxRelay(db, redis, batch_size=per_pass)
    for n in range(4):
        await stage(db, [f"M{n}-{k}" for k in range(per_pass)])
    for _ in range(3):
        assert await relay.publish_pending() == per_pass
    assert await unpublished(db) == 4 * per_pass  # three passes' rows still wait for their marks
    assert await relay.publish_pending() == per_pass
    assert await unpublished(db) == 0


async def test_redis_failing_between_passes_neither_loses_nor_duplicates(
    db: Database, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    redis = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=2)
    relay = OutboxRelay(db, redis)
    try:
        staged = await stage(db, ["F1", "F2"])
        assert await relay.publish_pending() == 2  # sent; on SQLite not yet marked
        server.stop()
        staged += await stage(db, ["F3"])
        with pytest.raises(RedisConnectionError):
            await relay.publish_pending()
        server.start()  # the stream comes back from the append-only file
        staged += await stage(db, ["F4"])
        assert await relay.publish_pending() == 2  # F3 and F4; F1 and F2 not again
        assert await relay.publish_pending() == 0
        assert await stream_ids(redis) == staged
        assert await unpublished(db) == 0
    finally:
        await redis.aclose()
        server.stop()


async def test_a_restart_with_rows_waiting_for_marks_sends_each_once(db: Database, redis: Redis) -> None:
    crashed = OutboxRelay(db, redis)
    staged: list[str] = []
    for n in range(3):
        staged += await stage(db, [f"C{n}-{k}" for k in range(3)])
        await crashed.publish_pending()
    staged += await stage(db, ["AFTER"])
    # `crashed` is dropped with its rows unmarked (on SQLite); a new process starts its relay.
    restarted = OutboxRelay(db, redis)
    while await restarted.publish_pending():
        pass
    assert await stream_ids(redis) == staged
    assert await unpublished(db) == 0


async def test_rows_committed_after_the_outbox_was_purged_empty_are_sent(db: Database, redis: Redis) -> None:
    """SQLite reuses the seqs of deleted rows: reading after the last seq sent must only ever
    skip rows still waiting for their marks."""
    relay = OutboxRelay(db, redis, retention=timedelta(0))
    staged = await stage(db, ["OLD-1", "OLD-2"])
    while await relay.publish_pending():
        pass
    assert await relay.purge_published() == 2  # the outbox is empty again
    staged += await stage(db, ["NEW"])  # on SQLite it takes seq 1 again
    assert await relay.publish_pending() == 1
    assert await stream_ids(redis) == staged
