"""A service's app served inside the test process by Litestar's test client: the fast lane.

The app is the one `plantbridge serve` runs, built by the same factory with the same settings
(real SQLite or PostgreSQL, a real Redis, migrations and the outbox relay in its lifespan); only
the HTTP server and the socket are left out. Requests go through the app's whole ASGI stack
(correlation, metrics, auth, unit of work, problems) on an event loop of its own, so a test reads
the service's database and Redis on its own loop as it would beside a process.

What needs the server or a second process stays in the process lane (`launch`): gateway hops,
crashes and restarts, flows across services, wire-level limits such as header sizes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import httpx
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport

from plantbridge.services import by_name

BASE_URL = "http://testserver.local"


class InProcess:
    """One service's app, started (lifespan run) until `stop()`."""

    def __init__(self, name: str, settings: Mapping[str, Any], database_url: str | None) -> None:
        self.name = name
        self.database_url = database_url
        factory = by_name(name).factory
        module, function = factory.split(":", 1)
        self.app = getattr(importlib.import_module(module), function)(**settings)
        self._test_client: TestClient[Any] | None = None

    @property
    def url(self) -> str:
        return BASE_URL

    def start(self) -> InProcess:
        test_client = TestClient(self.app, base_url=BASE_URL)
        test_client.__enter__()  # runs the lifespan: migrations, relay, consumers, flow runner
        self._test_client = test_client
        return self

    def stop(self) -> None:
        if self._test_client is not None:
            test_client, self._test_client = self._test_client, None
            test_client.__exit__(None, None, None)

    def client(self, *, headers: Mapping[str, str], timeout: float) -> httpx.Client:
        """An httpx client whose requests this app answers, on the app's own running loop."""
        assert self._test_client is not None, f"{self.name} is not started"
        transport = _AppTransport(self._test_client)
        return httpx.Client(base_url=BASE_URL, headers=dict(headers), timeout=timeout, transport=transport)


class _AppTransport(httpx.BaseTransport):
    """Litestar's test transport (which calls the app on the test client's loop) as an httpx
    transport any number of clients can share."""

    def __init__(self, test_client: TestClient[Any]) -> None:
        self._inner = TestClientTransport(client=test_client, raise_server_exceptions=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)
