"""A service's app served inside the test process by Litestar's test client: the fast lane.

The app is the one `plantbridge serve` runs, built by the same factory with the same settings
(real SQLite or PostgreSQL, a real Redis, migrations and the outbox relay in its lifespan); only
the HTTP server and the socket are left out. Requests go through the app's whole ASGI stack
(correlation, metrics, auth, unit of work, problems) on an event loop of its own, so a test reads
the service's database and Redis on its own loop as it would beside a process.

A service that calls others reaches an upstream served in process through `transport()`, the
kernel's transport seam (contracts/kit/http1.py): the call runs on the upstream app's own loop,
with no socket, and everything around it (tokens, retries, breaker, problems) is the real client.

What needs the server or a second process stays in the process lane (`launch`): gateway hops,
crashes and restarts, flows across services, wire-level limits such as header sizes.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import httpx
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport
from litestar.types import ASGIApp, Message

from contracts.clients.outbound import Outbound
from contracts.kit.http1 import Headers, Unavailable
from contracts.topology import by_name
from tests.support.tokens import token_provider

BASE_URL = "http://testserver.local"


class InProcess:
    """One app, running (its lifespan entered) from `start()` to `stop()`; each start builds it
    afresh with `build`, as a restarted process would."""

    def __init__(self, name: str, build: Callable[[], ASGIApp], database_url: str | None = None) -> None:
        self.name = name
        self.build = build
        self.database_url = database_url
        self.app: ASGIApp | None = None
        self._test_client: TestClient[Any] | None = None

    @classmethod
    def of(cls, name: str, settings: Mapping[str, Any]) -> InProcess:
        """The service `name` of the platform's table, built as `plantbridge serve` builds it."""
        module, function = by_name(name).factory.split(":", 1)
        factory = getattr(importlib.import_module(module), function)
        return cls(name, lambda: factory(**settings), settings.get("database_url"))

    @property
    def url(self) -> str:
        return BASE_URL

    def start(self) -> InProcess:
        self.app = self.build()
        test_client = TestClient(self.app, base_url=BASE_URL)
        test_client.__enter__()  # runs the lifespan: migrations, relay, consumers, flow runner
        self._test_client = test_client
        return self

    def stop(self) -> None:
        if self._test_client is not None:
            test_client, self._test_client = self._test_client, None
            test_client.__exit__(None, None, None)

    def transport(self) -> AppTransport:
        """What a typed client of another app in this process sends through to reach this one."""
        return AppTransport(self)

    def client(self, *, headers: Mapping[str, str], timeout: float) -> httpx.Client:
        """An httpx client whose requests this app answers, on the app's own running loop."""
        assert self._test_client is not None, f"{self.name} is not started"
        transport = _HttpxTransport(self._test_client)
        return httpx.Client(base_url=BASE_URL, headers=dict(headers), timeout=timeout, transport=transport)


class _HttpxTransport(httpx.BaseTransport):
    """Litestar's test transport (which calls the app on the test client's loop) as an httpx
    transport any number of clients can share."""

    def __init__(self, test_client: TestClient[Any]) -> None:
        self._inner = TestClientTransport(client=test_client, raise_server_exceptions=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


Serve = Callable[..., InProcess]  # the `in_process` fixture: in_process(name, database_url=, **settings)


class Apps:
    """Several services served in process, by name (as `Platform` holds processes)."""

    def __init__(self) -> None:
        self.services: dict[str, InProcess] = {}

    def stop(self) -> None:
        for service in reversed(self.services.values()):
            service.stop()


def outbound_to(name: str, upstreams: Mapping[str, InProcess]) -> Outbound:
    """The port of the calling service `name` to upstreams served in process: tokens from the
    test issuer with the scopes its own client has at the gateway, and each upstream's transport."""
    caller = by_name(name)
    return Outbound(
        token=token_provider(caller.client_scopes, client_id=caller.client_id),
        transports={upstream: service.transport() for upstream, service in upstreams.items()},
    )


class AppTransport:
    """An `http1.Transport` into an app served in process. The caller runs on its own app's loop;
    the request is handed to this app's loop and awaited there, so calls in flight overlap as
    they would over sockets, and apps may call each other."""

    def __init__(self, service: InProcess) -> None:
        self.service = service

    async def request(
        self, method: str, target: bytes, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        test_client = self.service._test_client
        app = self.service.app
        if test_client is None or app is None:  # stopped: as a refused connection would be
            raise Unavailable(f"{self.service.name} is not running")
        call = test_client.blocking_portal.start_task_soon(_exchange, app, method, target, headers, body)
        return await asyncio.wrap_future(call)

    def close(self) -> None:
        pass


async def _exchange(
    app: ASGIApp, method: str, target: bytes, headers: Headers, body: bytes
) -> tuple[int, Headers, bytes]:
    path, _, query = target.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), (b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    answered = asyncio.Event()
    status = 500
    answer_headers: Headers = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        if pending:
            return pending.pop()  # type: ignore[return-value]
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status, answer_headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, answer_headers, b"".join(chunks)
