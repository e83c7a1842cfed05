"""Gateway processes that start together (GATEWAY_WORKERS, replicas) make one signing key between
them, not one each: otherwise each signs with a key the others learn of only at their next reload,
and a token from one worker is refused by another for up to 30 s."""

from __future__ import annotations

import httpx
import pytest

from plantbridge.processes import free_port
from tests.support.db import count
from tests.support.fixtures import BACKENDS, DatabaseUrl, Launch


@pytest.mark.parametrize("backend", BACKENDS)
async def test_workers_starting_on_an_empty_database_make_one_signing_key(
    launch: Launch, database_url: DatabaseUrl, backend: str
) -> None:
    url = database_url(backend, f"gateway_workers_{backend}")
    gateway = launch("gateway", database_url=url, port=free_port(), workers="4")
    assert await count(url, "gateway_signing_keys") == 1
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for _ in range(8):  # answered by any of the workers
            assert len((await http.get("/.well-known/jwks.json")).json()["keys"]) == 1
