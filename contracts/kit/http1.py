"""A lean HTTP/1.1 client: pooled keep-alive connections on asyncio protocols with httptools
parsing (the parser uvicorn uses). The gateway proxies through it and `contracts.clients`
calls system APIs through it.

It does only what those need: write the request bytes, parse status, headers and body, keep
the connection for the next request. Why not httpx or aiohttp, with the benchmark that keeps
the reason honest: docs/decisions/http1-client.md.

`Transport` is the seam above it: whatever answers `request(...)` can stand in for a `Pool`
(an in-memory `contracts.clients.testing.MockTransport`, an app served in a test's process).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

Headers = list[tuple[bytes, bytes]]
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A pooled connection idle for longer may already be closed by the upstream (uvicorn: 5 s).
MAX_IDLE_SECONDS = 2.0


class Unavailable(ConnectionError):
    """Could not connect, or the connection broke before a complete response."""


class Transport(Protocol):
    """Sends one request to one server and gives back (status, headers, body); raises
    `Unavailable` when the server cannot be reached or the exchange broke, `TimeoutError` when
    no answer came in time. Header names are lower-case bytes."""

    async def request(
        self, method: str, target: bytes, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]: ...

    def close(self) -> None: ...


class _Connection(asyncio.Protocol):
    def __init__(self, max_response_bytes: int | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self.received = 0
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.headers: Headers = []
        self.body: list[bytes] = []
        self.closed = False
        self.idle_since = 0.0
        self.got_bytes = False
        self.head = False
        self.keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.received += len(data)
        if self.max_response_bytes is not None and self.received > self.max_response_bytes:
            # A peer we do not control (a webhook receiver) must not fill our memory.
            self._fail(Unavailable(f"response larger than {self.max_response_bytes} bytes"))
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(Unavailable("upstream tried to upgrade the connection"))
        except httptools.HttpParserError as exc:
            self._fail(Unavailable(f"bad response from upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(Unavailable("upstream closed the connection"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # only meaningful until the message ends
        if self.head:  # no body follows a HEAD response, whatever Content-Length says
            self._done()

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self._done()

    def _done(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def start(self, head: bool) -> asyncio.Future[None]:
        self.received = 0
        self.status = 0
        self.headers = []
        self.body = []
        self.got_bytes = False
        self.head = head
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to one server, `http://host:port` or `https://host:port`."""

    def __init__(
        self,
        base_url: str,
        *,
        size: int,
        connect_timeout: float,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        address: str | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        """`address`: connect to this IP address instead of resolving the URL's host again (one
        the caller has vetted); TLS still verifies the certificate against the URL's host.
        `max_response_bytes`: a bigger answer (head and body) fails as Unavailable."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # https verifies against the system's CAs (SSL_CERT_FILE / SSL_CERT_DIR are honoured).
        self.ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/").encode()
        self.host_header = f"{self.host}:{self.port}".encode()
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.address = address
        self.max_response_bytes = max_response_bytes
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(size)

    async def request(
        self, method: str, target: bytes, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        """Raises Unavailable (connect or connection failure) or TimeoutError."""
        head = b"".join(
            [
                method.encode(),
                b" ",
                self.prefix,
                target,
                b" HTTP/1.1\r\nhost: ",
                self.host_header,
                b"\r\ncontent-length: ",
                str(len(body)).encode(),
                b"\r\n",
                *[b"%s: %s\r\n" % pair for pair in headers],
                b"\r\n",
            ]
        )
        payload = head + body if body else head
        async with self._slots:
            for attempt in range(2):
                conn, reused = await self._acquire()
                try:
                    return await self._exchange(conn, payload, method == "HEAD")
                except Unavailable:
                    conn.close()
                    # A reused connection the upstream closed while idle: nothing reached the
                    # application, and for an idempotent method a retry is safe anyway.
                    if attempt == 0 and reused and not conn.got_bytes and method in IDEMPOTENT:
                        continue
                    raise
                except BaseException:
                    conn.close()
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, conn: _Connection, payload: bytes, head: bool) -> tuple[int, Headers, bytes]:
        waiter = conn.start(head)
        assert conn.transport is not None
        conn.transport.write(payload)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
        status, headers, body = conn.status, conn.headers, b"".join(conn.body)
        if head or not conn.keep_alive or conn.closed:
            conn.close()
        else:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        return status, headers, body

    async def _acquire(self) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # most recently used: most likely still open
            if not conn.closed and now - conn.idle_since < MAX_IDLE_SECONDS:
                return conn, True
            conn.close()
        loop = asyncio.get_running_loop()
        limit = self.max_response_bytes
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(limit),
                    self.address or self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl and self.address else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise Unavailable(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return conn, False

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
