"""Header limits for the services' server, uvicorn, which has none of its own for httptools.

uvicorn's `timeout_keep_alive` only covers the wait between requests and is reset by every byte
received, so a client sending its headers a byte at a time holds a connection for ever; and with
httptools it reads headers of any size (10 MB were accepted). This protocol adds, per connection:
- a deadline for the request line and headers (`http_header_timeout_seconds`), counted from the
  connection (or from the first byte of each later request on it): past it, 408 and close;
- a size limit for them (`http_max_header_bytes`): past it, 431 and close.
Both act before any ASGI application runs. The body's deadline and the per-client cap are
`contracts/kit/http_limits.py`, the same for the gateway's server.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from contracts.kit.problems import PROBLEM_JSON, problem_bytes
from contracts.kit.settings import HttpServerSettings

_LINGER_SECONDS = 1.0
_READ_SLACK = 262_144  # one read of the event loop, which may hold more than the head


def _raw_problem(status: int, reason: str, slug: str, detail: str) -> bytes:
    body = problem_bytes(status, slug, reason, detail)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing and uvicorn calls send_400_response."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit for each request's head."""

    limits: HttpServerSettings  # set on the subclass `protocol_class` makes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._refused = False
        self._too_large = False
        self._in_head = True  # a new connection owes the head of its first request
        self._head_bytes = 0  # received while the parser was inside a head
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # what a refused client still sends is read and dropped, until we hang up
        super().data_received(data)
        if self._in_head and not self._refused:
            # Still inside a head after this read: the parser buffers it, so stop it growing
            # (with room for one read of the body or of the next request counted in).
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.http_max_header_bytes + _READ_SLACK:
                self._too_large = True
                self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.http_max_header_bytes:
            self._too_large = True
            raise _HeadTooLarge  # before any ASGI application sees the request
        self._in_head = False
        self._disarm_head_deadline()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        most = self.limits.http_max_header_bytes
        detail = f"The request line and headers may take at most {most} bytes."
        self._refuse(431, "Request Header Fields Too Large", "headers-too-large", detail)

    def _arm_head_deadline(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.http_header_timeout_seconds, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0 and self.cycle is None:
            self.transport.close()  # a new connection that sent nothing: nothing to answer
            return
        within = self.limits.http_header_timeout_seconds
        detail = f"The request line and headers must arrive within {within:g} s."
        self._refuse(408, "Request Timeout", "request-timeout", detail)

    def _refuse(self, status: int, reason: str, slug: str, detail: str) -> None:
        """Answer, then hang up a moment later: closing while the client's bytes still arrive
        would reset the connection, and the client could lose the answer."""
        self._disarm_head_deadline()
        self._refused = True
        self.transport.write(_raw_problem(status, reason, slug, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)


def protocol_class(limits: HttpServerSettings) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give uvicorn (`http=`), bound to these limits."""
    return type("LimitedHttpTools", (LimitedHttpToolsProtocol,), {"limits": limits})


__all__ = ["LimitedHttpToolsProtocol", "protocol_class"]
