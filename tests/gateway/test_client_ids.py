"""A client id no client can be registered under is an unknown client, not a database error:
PostgreSQL refuses a NUL in text, which made the token endpoint answer 500 to `client_id=%00`.
Registration takes ids and scopes whole: a regex `$` alone also matches before a final newline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from contracts.kit.db import Database
from gateway import clients
from gateway.store import metadata
from tests.support.db import database_of


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


def test_registration_takes_ids_and_scopes_whole() -> None:
    clients.validate_registration("quality-process", ["erp:read"])
    with pytest.raises(ValueError, match="client_id"):
        clients.validate_registration("quality-process\n", ["erp:read"])
    with pytest.raises(ValueError, match="scopes"):
        clients.validate_registration("quality-process", ["erp:read\n"])
