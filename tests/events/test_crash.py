"""A consumer killed mid-handler: its message is reclaimed by another and applied exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select

from contracts.kit.consumer import Consumer, running
from contracts.kit.db import Database
from contracts.kit.tables import inbox
from plantbridge.processes import RedisServer
from tests.events.support import RECEIPT, effect_count, make_event, put, record
from tests.support.fixtures import Spawn
from tests.support.wait import eventually

STREAM = "events.crash"


async def test_killed_consumer_message_is_reclaimed_and_applied_once(
    db: Database, redis: Redis, events_redis: RedisServer, spawn: Spawn, tmp_path: Path
) -> None:
    marker = tmp_path / "in-handler"
    event = make_event("LOT-CRASH", correlation_id="corr-crash")
    survivor = Consumer(db=db, redis=redis, group="crash", name="survivor", claim_idle_ms=300)
    survivor.on(RECEIPT, record, stream=STREAM)
    await survivor.ensure_groups()
    await put(redis, STREAM, event)

    worker = spawn(
        *(sys.executable, "-m", "tests.events.hanging_worker"),
        *(db.url.render_as_string(hide_password=False), events_redis.url, STREAM, "crash", str(marker)),
    )
    try:
        await eventually(_exists(marker, worker), what="the worker to be inside its handler")
        assert await asyncio.to_thread(marker.read_text) == event.id
    finally:
        worker.kill()  # SIGKILL: no cleanup, the transaction dies with the process
        await asyncio.to_thread(worker.wait)

    pending = await redis.xpending_range(STREAM, "crash", min="-", max="+", count=10)
    assert [p["consumer"] for p in pending] == [b"doomed"]
    assert await effect_count(db) == 0

    async with running(survivor):
        await eventually(lambda: _applied(db, event.id), what="the reclaimed event to be applied")
        await eventually(lambda: _nothing_pending(redis), what="the reclaimed message to be acked")

    assert survivor.stats.reclaimed == 1
    assert await effect_count(db, event.id) == 1
    assert await effect_count(db) == 1
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(inbox)) == 1


def _exists(marker: Path, worker: subprocess.Popen[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        assert worker.poll() is None, "worker died before reaching its handler"
        # Written, not only created: write_text creates the file before it writes the id.
        return await asyncio.to_thread(lambda: marker.exists() and marker.stat().st_size > 0)

    return check


async def _applied(db: Database, event_id: str) -> bool:
    return await effect_count(db, event_id) == 1


async def _nothing_pending(redis: Redis) -> bool:
    return int((await redis.xpending(STREAM, "crash"))["pending"]) == 0


async def test_message_that_keeps_killing_consumers_is_dead_lettered(db: Database, redis: Redis) -> None:
    event = make_event("LOT-KILLER")
    survivor = Consumer(db=db, redis=redis, group="crash", name="survivor", claim_idle_ms=0, max_attempts=3)
    survivor.on(RECEIPT, record, stream=STREAM)
    await survivor.ensure_groups()
    entry = await put(redis, STREAM, event)
    # Three consumers took it and died without acking (each delivery counts).
    await redis.xreadgroup("crash", "ghost-1", {STREAM: ">"})
    await redis.xclaim(STREAM, "crash", "ghost-2", 0, [entry])
    await redis.xclaim(STREAM, "crash", "ghost-3", 0, [entry])

    await survivor.reclaim()

    assert await effect_count(db) == 0
    letters: Any = await redis.xrange(STREAM + ".dlq")
    assert len(letters) == 1
    assert letters[0][1][b"attempts"] == b"3"
    assert b"consumers died" in letters[0][1][b"error"]
