"""A client id no client can be registered under is an unknown client, not a database error:
PostgreSQL refuses a NUL in text, which made the token endpoint answer 500 to `client_id=%00`.
Registration takes ids and scopes whole: a regex `$` alone also matches before a final newline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from contracts.kit.db import Database
from gateway import clients, store
from gateway.store import metadata
from tests.support.db import database_of

NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.fixture
async def db(backend: str, database_url: Callable[[str, str], str]) -> AsyncIterator[Database]:
    async with database_of(
        database_url(backend, f"client_ids_{uuid.uuid4().hex[:10]}"), metadata
    ) as database:
        yield database


async def test_an_id_no_client_can_have_is_unknown(db: Database) -> None:
    async with db.transaction() as session:
        for claimed in ("a\x00b", "x" * 5000, "quality-process\n", "é-client"):
            assert await clients.find(session, claimed) is None, repr(claimed)


async def test_a_client_an_older_version_let_in_is_still_listed(db: Database) -> None:
    """An id with a final newline passed the old check: it can no longer sign in, but the
    operator still sees it in the list (to deactivate or remove it)."""
    old = {"name": "old", "secret_hash": "x", "scopes": "erp:read", "active": True}
    async with db.transaction() as session:
        await session.execute(store.clients.insert().values(client_id="old-client\n", created_at=NOW, **old))
    async with db.transaction() as session:
        assert [c.client_id for c in await clients.list_all(session)] == ["old-client\n"]
        assert await clients.find(session, "old-client\n") is None


def test_registration_takes_ids_and_scopes_whole() -> None:
    clients.validate_registration("quality-process", ["erp:read"])
    with pytest.raises(ValueError, match="client_id"):
        clients.validate_registration("quality-process\n", ["erp:read"])
    with pytest.raises(ValueError, match="scopes"):
        clients.validate_registration("quality-process", ["erp:read\n"])
