"""Fixtures of the event-backbone tests: a private Redis (flushed per test) and a fresh database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.asyncio import Redis

from contracts.kit.db import Database
from plantbridge.processes import RedisServer
from tests.events.support import prepare


@pytest.fixture(scope="module")
def events_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Our own server, so stopping, flushing or restarting it never disturbs the session's."""
    server = RedisServer(tmp_path_factory.mktemp("events-redis")).start()
    yield server
    server.stop()


@pytest.fixture
async def redis(events_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(events_redis.url, socket_connect_timeout=2, socket_timeout=5)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    database = Database(database_url(backend, f"events_{uuid.uuid4().hex[:10]}"))
    await prepare(database)
    yield database
    await database.dispose()
