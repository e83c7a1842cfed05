"""A service's view of revoked clients survives losing Redis: it catches up on reconnecting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from contracts.kit.revocation import Revocations, following, revoke
from plantbridge.processes import RedisServer


async def test_a_service_that_lost_redis_learns_missed_revocations_when_it_is_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    revocations = Revocations()
    try:
        async with following(revocations, server.url):
            await _until(lambda: revocations.synced)
            server.stop()  # the announcement below happens while this follower is away
            await _until(lambda: not revocations.synced)
            server.start()
            redis = Redis.from_url(server.url)
            try:
                await revoke(redis, "https://gw.example", "gone-client", keep_seconds=960)
            finally:
                await redis.aclose()
            await _until(
                lambda: revocations.revoked("https://gw.example", "gone-client", int(time.time()) - 1)
            )
            assert not revocations.revoked("https://gw.example", "other-client", 0)
    finally:
        server.stop()


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
