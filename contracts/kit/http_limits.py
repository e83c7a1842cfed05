"""What every HTTP server of the platform enforces above the socket, as one ASGI middleware: the
request body must keep coming, and one client may have only so many requests in progress.

- Body deadline: the body must arrive within `http_body_timeout_seconds`, extended by a second
  for every `http_body_min_bytes_per_second` bytes received (Apache's mod_reqtimeout works the
  same way). A client trickling its body (a byte every 5 s) is answered 408 and its connection
  closed; a slow but steady upload is not. Reading `receive()` is what times out, so nothing the
  application holds (a database session, an upstream connection) waits on a slow client longer.
- Per-client cap: at most `http_max_connections_per_client` requests in progress at once from one
  client address; over it, 429 with `Retry-After`, before the application sees the request.
- A response sent before the application read the whole body (a 401, a 413, a 408) closes the
  connection, so a client cannot keep it open by trickling a body nobody reads.
- Control characters (NUL, a line feed, ...) in the path or the query, sent percent-encoded, are a
  422 before any route sees them: no id, filter or cursor holds one, and further in they became
  500s (PostgreSQL refuses NUL in text) or ids that break the `Location` header of their answer.
  A 422, not a 400: the request is well-formed, and a parameter's schema (a cursor, a filter)
  does not spell out that its text has no control characters.

The request line and headers arrive before any ASGI application runs, so their size and
deadline are the server's: granian's HTTP/1 settings for the gateway, and
`contracts/kit/uvicorn_limits.py` for the services. docs/decisions/http-server-limits.md says
why, with measurements.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote_to_bytes

from contracts.kit import correlation
from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.problems import PROBLEM_JSON, Problem, problem_bytes
from contracts.kit.settings import HttpServerSettings

_CLOSE = (b"connection", b"close")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class BodyTimeout(Problem):
    """Raised from `receive()` when the body is late; a service answers it as this problem."""

    status, slug, title = 408, "request-timeout", "Request body too slow"


def _has_control_characters(scope: Scope) -> bool:
    path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    query = scope.get("query_string", b"")
    return bool(_CONTROL.search(unquote_to_bytes(path)) or _CONTROL.search(unquote_to_bytes(query)))


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


async def _answer(
    send: Send, status: int, slug: str, title: str, detail: str, *extra: tuple[bytes, bytes]
) -> None:
    body = problem_bytes(status, slug, title, detail)
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()), _CLOSE]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _correlation_header(scope: Scope) -> tuple[bytes, bytes]:
    """The caller's correlation id when it is a safe one, else a new one (the kernel's rule)."""
    name = correlation.CORRELATION_HEADER.encode()
    given = next((value for key, value in scope["headers"] if key == name), b"")
    if correlation.SAFE_ID.match(given.decode("latin-1")):
        return name, given
    return name, correlation.new_correlation_id().encode()


class RequestGuard:
    """Pure ASGI, around the application: in a service inside the correlation middleware (its
    problems carry the correlation id); the gateway's server wraps the gateway's whole app in it,
    outside the gateway's own correlation, so there (`correlate=True`) the guard's answers carry
    the correlation id themselves."""

    def __init__(self, app: ASGIApp, limits: HttpServerSettings, *, correlate: bool = False) -> None:
        self.app = app
        self.correlate = correlate
        self.timeout = limits.http_body_timeout_seconds
        self.rate = float(limits.http_body_min_bytes_per_second)
        self.cap = limits.http_max_connections_per_client
        self.busy: dict[str, int] = {}  # requests in progress per client address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids = (_correlation_header(scope),) if self.correlate else ()
        if _has_control_characters(scope):
            await _answer(
                send,
                422,
                "control-characters",
                "Control characters in the request target",
                "The path or query holds a control character (such as %00 or %0A), which no value takes.",
                *ids,
            )
            return
        client = scope.get("client")
        address = str(client[0]) if client else ""
        busy = self.busy.get(address, 0)
        if self.cap and busy >= self.cap:
            await _answer(
                send,
                429,
                "too-many-connections",
                "Too many requests in progress",
                f"At most {self.cap} requests from one client may be in progress at once.",
                (b"retry-after", b"1"),
                *ids,
            )
            return
        self.busy[address] = busy + 1
        try:
            if _has_body(scope):
                await self._within_deadline(scope, receive, send, ids)
            else:
                await self.app(scope, receive, send)
        finally:
            left = self.busy[address] - 1
            if left:
                self.busy[address] = left
            else:
                del self.busy[address]

    async def _within_deadline(
        self, scope: Scope, receive: Receive, send: Send, ids: tuple[tuple[bytes, bytes], ...]
    ) -> None:
        deadline = asyncio.get_running_loop().time() + self.timeout
        body = _Body(receive, send, deadline, self.rate, self.timeout)
        try:
            await self.app(scope, body.receive, body.send)
        except BodyTimeout as late:
            if not body.answered:  # the application let it through (the gateway's proxy does)
                await _answer(send, late.status, late.slug, late.title, late.detail, *ids)


class _Body:
    """One request's body, read by the application against its deadline."""

    def __init__(self, receive: Receive, send: Send, deadline: float, rate: float, timeout: float) -> None:
        self._receive = receive
        self._send = send
        self._deadline = deadline
        self._rate = rate
        self._timeout = timeout
        self.read = False  # all of it
        self.answered = False

    async def receive(self) -> Message:
        if self.read:
            return await self._receive()  # after the body: waiting for a disconnect is not ours to time
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeout(
                f"The request body did not arrive in time (at least {self._rate:.0f} bytes per second "
                f"after {self._timeout:g} s)."
            ) from None
        if message["type"] == "http.request":
            self._deadline += len(message.get("body", b"")) / self._rate
            self.read = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.answered = True
            if not self.read:  # answered without reading the body: do not wait for the rest
                message["headers"] = [*message.get("headers", []), _CLOSE]
        await self._send(message)


__all__ = ["BodyTimeout", "RequestGuard"]
