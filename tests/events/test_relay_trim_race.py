"""Stream trimming while consumers keep acknowledging, against a real Redis and real SQLite/PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from contracts.kit.db import Database
from contracts.kit.relay import HOUSEKEEPING_RETRY, OutboxRelay
from tests.events.test_relay import STREAM, drain, stage, stream_ids


async def test_a_group_acknowledging_everything_while_the_relay_trims_is_no_failure(
    db: Database, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XINFO GROUPS said the group had pending entries; by the relay's next command the consumer
    had acknowledged them all. That reply is older than the next one, and the trim must work
    from the pair as it is rather than fail the relay's pass (`invalid literal for int()
    with base 10: 'None'`, seen once in the events throughput benchmark)."""
    relay = OutboxRelay(db, redis, retention=timedelta(0))  # age alone would allow trimming all
    staged = await stage(db, [f"A{n}" for n in range(5)])
    await drain(relay)
    await redis.xgroup_create(STREAM, "busy", id="0")
    await redis.xgroup_create(STREAM, "behind", id="0")
    entries: Any = await redis.xreadgroup("busy", "c", {STREAM: ">"})
    delivered = [entry_id for entry_id, _ in entries[0][1]]
    await redis.xreadgroup("behind", "c", {STREAM: ">"}, count=3)
    await redis.xack(STREAM, "behind", *delivered[:2])  # the 3rd stays pending, the rest unread

    looked_up = redis.xinfo_groups

    async def groups_then_consumer_catches_up(name: str) -> Any:
        groups = await looked_up(name)
        await redis.xack(STREAM, "busy", *delivered)  # the consumer, between the relay's commands
        return groups

    monkeypatch.setattr(redis, "xinfo_groups", groups_then_consumer_catches_up)
    assert await relay.trim_streams() == 2
    assert await stream_ids(redis) == staged[2:]  # "behind" still needs its pending 3rd entry


async def test_a_failed_trim_is_housekeeping_that_neither_stops_publishing_nor_waits_an_interval(
    db: Database, redis: Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    relay = OutboxRelay(db, redis, purge_interval=600.0)

    async def redis_refuses() -> int:
        raise ConnectionError("trim refused")

    monkeypatch.setattr(relay, "trim_streams", redis_refuses)
    assert await relay._housekeep() == HOUSEKEEPING_RETRY  # tried again soon, not in 600 s
    assert relay.failures == 0  # publishing does not back off for it
    assert "housekeeping failed (ConnectionError: trim refused)" in caplog.text
    assert "cannot publish" not in caplog.text
    staged = await stage(db, ["B1"])
    await drain(relay)
    assert (await stream_ids(redis))[-1] == staged[-1]
