"""The platform's own Redis keeps streams, groups and pending entries across a restart (AOF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from plantbridge.processes import RedisServer


@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_streams_groups_and_pending_survive_a_restart(how: str, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        async with Redis.from_url(server.url) as redis:
            assert (await redis.config_get("appendonly"))["appendonly"] == "yes"
            assert (await redis.config_get("appendfsync"))["appendfsync"] == "always"
            await redis.xgroup_create("events.keep", "g", id="0", mkstream=True)
            ids = [await redis.xadd("events.keep", {"n": str(n)}) for n in range(5)]
            await redis.xreadgroup("g", "c1", {"events.keep": ">"}, count=2)  # two now pending
            await redis.xadd("events.keep.dlq", {"error": "kept too"})

        if how == "stop":
            server.restart()
        else:  # SIGKILL: with appendfsync always, Redis answers a write only once it is on disk
            assert server.process is not None
            server.process.kill()
            server.process.wait()
            server.process = None
            server.start()

        async with Redis.from_url(server.url) as redis:
            kept: Any = await redis.xrange("events.keep")
            assert [entry_id for entry_id, _ in kept] == ids
            groups = await redis.xinfo_groups("events.keep")
            assert [(g["name"], g["pending"], g["last-delivered-id"]) for g in groups] == [(b"g", 2, ids[1])]
            assert await redis.xlen("events.keep.dlq") == 1
    finally:
        server.stop()


async def test_the_platform_redis_starts_from_a_relative_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plantbridge up` keeps its data in `./data` by default; redis-server must start from there."""
    monkeypatch.chdir(tmp_path)
    server = RedisServer(Path("data") / "redis").start()
    try:
        async with Redis.from_url(server.url) as redis:
            assert await redis.ping()
        assert (tmp_path / "data" / "redis" / "redis.log").exists()
    finally:
        server.stop()
