"""A database with the flow store (and the kernel's tables), migrated by the kit's own kernel
branches as a process API's is, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from contracts.kit import migrations
from contracts.kit.db import Database
from contracts.kit.flows.store import flow_metadata

VERSIONS = Path(__file__).parent / "no-migrations"  # no tables of its own: the kernel's branches only


@pytest.fixture
async def db(
    backend: str, database_url: Callable[[str, str], str], request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    url = database_url(backend, request.node.name)
    await asyncio.to_thread(migrations.upgrade, url, VERSIONS, (flow_metadata,))
    database = Database(url)
    yield database
    await database.dispose()
