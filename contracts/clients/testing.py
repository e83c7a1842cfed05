"""An in-memory transport for the typed clients, as httpx's `MockTransport` is for httpx.

    def upstream(request: Request) -> Answer:
        if request.target.startswith("/erp/v1/lots/"):
            return json_answer(200, {"lot_id": "LOT-1", ...})
        raise http1.Unavailable("connection refused")

    erp = ErpClient("http://erp.invalid", transport=MockTransport(upstream), backoff=0)

The handler sees each request the client makes (after correlation, token and idempotency
headers are set) and answers it, or raises as the network would (`http1.Unavailable`,
`TimeoutError`). Retries, the circuit breaker and problem decoding then run exactly as they do
over a socket; what the wire itself does (keep-alive, TLS, framing) is `http1.Pool`'s and is
tested against a real server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.clients.base import Answer
from contracts.kit.http1 import Headers


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


Handler = Callable[[Request], Answer | Awaitable[Answer]]


class MockTransport:
    """Answers every request with `handler(request)`; keeps the requests in `requests`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def request(
        self, method: str, target: bytes, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        seen = Request(method, target.decode(), {k.decode(): v.decode() for k, v in headers}, body)
        self.requests.append(seen)
        answer = self.handler(seen)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer.status, answer.headers, answer.body

    def close(self) -> None:
        self.closed = True


def json_answer(status: int, body: Any, content_type: str = "application/json") -> Answer:
    """An answer with a JSON body (`content_type="application/problem+json"` for a problem)."""
    return Answer(status, [(b"content-type", content_type.encode())], msgspec.json.encode(body))
