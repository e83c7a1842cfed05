"""Client credentials against a token endpoint on loopback: tokens are cached, and a failing
endpoint is not asked again by every waiting caller."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contracts.clients.tokens import ClientCredentials, TokenUnavailable


class _Endpoint(BaseHTTPRequestHandler):
    requests = 0
    status = 200

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"access_token": f"token-{self.requests}", "expires_in": 900}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[_Endpoint]]]:
    handler = type("Endpoint", (_Endpoint,), {"requests": 0, "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/token", handler
    server.shutdown()
    server.server_close()


async def test_a_token_is_fetched_once_and_reused(endpoint) -> None:
    url, handler = endpoint
    credentials = ClientCredentials(url, "quality-process", "secret", ["erp:read"])
    tokens = await asyncio.gather(*(credentials() for _ in range(10)))
    assert set(tokens) == {"token-1"}
    assert handler.requests == 1


async def test_a_failing_endpoint_is_asked_once_by_many_waiting_callers(endpoint) -> None:
    url, handler = endpoint
    handler.status = 503
    credentials = ClientCredentials(url, "quality-process", "secret", ["erp:read"], quiet_after_failure=60)
    answers = await asyncio.gather(*(credentials() for _ in range(10)), return_exceptions=True)
    assert all(isinstance(answer, TokenUnavailable) for answer in answers)
    assert handler.requests == 1


async def test_after_the_quiet_time_the_endpoint_is_asked_again(endpoint) -> None:
    url, handler = endpoint
    handler.status = 503
    credentials = ClientCredentials(url, "quality-process", "secret", ["erp:read"], quiet_after_failure=0)
    with pytest.raises(TokenUnavailable):
        await credentials()
    handler.status = 200
    assert await credentials() == "token-2"
