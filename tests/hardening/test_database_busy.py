"""A service whose pooled database connections all stay busy answers 503 with Retry-After, never
500, and changes nothing: a caller (a flow step) retries a 503 and is served.

The ERP service on SQLite (one pooled connection) in this process; the test holds that connection
on the app's own event loop, as a long request would, for longer than the pool's timeout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.fixtures import DatabaseUrl, Serve
from tests.support.http import client
from tests.support.inprocess import InProcess


@pytest.fixture(scope="module")
def erp(in_process: Serve, database_url: DatabaseUrl) -> Iterator[InProcess]:
    service = in_process(
        "erp", database_url=database_url("sqlite", "erp_busy"), database_pool_timeout_seconds=0.3
    )
    yield service
    service.stop()


class Held:
    """The app's only database connection, checked out on the app's loop until released."""

    def __init__(self, service: InProcess) -> None:
        self.test_client: Any = service._test_client
        self.db = service.app.state["runtime"].db
        self.connection: AsyncConnection | None = None

    def __enter__(self) -> Held:
        self.connection = self.test_client.blocking_portal.call(self.db.engine.connect)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.connection is not None
        self.test_client.blocking_portal.call(self.connection.close)


def test_no_free_connection_is_a_503_with_retry_after_and_the_retry_is_served(erp: InProcess) -> None:
    item = {"item_id": f"RM-{uuid.uuid4().hex[:8].upper()}", "description": "Bar"}
    with client(erp, scopes=["erp:read", "erp:write"]) as http:
        with Held(erp):
            for headers in ({}, {"Idempotency-Key": f"busy-{item['item_id']}"}):
                busy = http.post("/erp/v1/items", json=item, headers=headers)
                assert busy.status_code == 503, busy.text
                assert busy.headers["content-type"] == "application/problem+json"
                assert busy.json()["type"] == "urn:plantbridge:problem:database-busy"
                assert int(busy.headers["retry-after"]) > 0
            assert http.get(f"/erp/v1/items/{item['item_id']}").status_code == 503
        assert http.get(f"/erp/v1/items/{item['item_id']}").status_code == 404  # nothing was made
        retried = http.post(
            "/erp/v1/items", json=item, headers={"Idempotency-Key": f"busy-{item['item_id']}"}
        )
        assert retried.status_code == 201, retried.text


def test_the_pool_timeout_is_a_setting_with_bounds() -> None:
    from contracts.kit.settings import ServiceSettings, SettingsError, load_settings

    with pytest.raises(SettingsError):
        load_settings(ServiceSettings, "X", database_url="sqlite://", database_pool_timeout_seconds=0)
