"""Correlation id, W3C traceparent and causation, carried through a context variable.

The middleware reads them from the request (or makes new ones), every log line and outbox
event picks them up from here, and every outgoing call passes them on.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.patterns import whole

CORRELATION_HEADER = "x-correlation-id"
TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SAFE_ID = re.compile(whole(r"[A-Za-z0-9._:\-]{1,128}"))
SAFE_ID = _SAFE_ID  # what an incoming X-Correlation-ID may look like (the gateway checks it too)
# Who a call acts for, as `client=<id>&person=<id>&supplier=<id>` (percent-encoded, contracts/kit/acting.py).
ACTING_FOR = re.compile(r"^client=[\x21-\x7e]{1,2000}$")
# Platform headers: why (or for whom) a call happens, sent by the platform's own clients (a flow
# step, an event handler, an experience API acting for its caller) and recorded in audit entries
# and events. Each names the Context field it carries and what its value must look like. Anyone
# may send them, so a service believes them only from a platform client
# (contracts/kit/platform_headers.py); adding a header is one line here and its Context field.
PLATFORM_HEADERS: dict[str, tuple[str, re.Pattern[str]]] = {
    "X-Flow-ID": ("flow_id", SAFE_ID),
    "X-Causation-ID": ("causation_id", SAFE_ID),
    "X-Acting-For": ("acting_for", ACTING_FOR),
}


@dataclass(frozen=True, slots=True)
class Context:
    correlation_id: str = ""
    traceparent: str = ""
    causation_id: str = ""
    flow_id: str = ""
    acting_for: str = ""  # the person or supplier (and their client) a platform client acts for


_EMPTY = Context()  # frozen, so one shared default is safe
_current: ContextVar[Context] = ContextVar("plantbridge_context", default=_EMPTY)


def current() -> Context:
    return _current.get()


# Ids name things, they guard nothing (a caller may send its own correlation id): the Mersenne
# Twister (reseeded in every forked worker) draws them ~10x cheaper than os.urandom, which cost
# the gateway a system call per id, three ids per request.
_bits = random.getrandbits


def new_correlation_id() -> str:
    """A random (version 4) UUID."""
    h = f"{_bits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def child_traceparent(parent: str) -> str:
    """A new span id under the parent's trace, or a new trace when there is none."""
    match = _TRACEPARENT.match(parent) if parent else None
    if match is None:
        return f"00-{_bits(128):032x}-{_bits(64):016x}-01"
    return f"00-{match.group(1)}-{_bits(64):016x}-{match.group(3)}"


@contextmanager
def bound(
    correlation_id: str, traceparent: str = "", causation_id: str = "", flow_id: str = ""
) -> Iterator[Context]:
    """Run a block (a consumer handler, a flow step) under a given correlation."""
    ctx = Context(
        correlation_id=correlation_id or new_correlation_id(),
        traceparent=child_traceparent(traceparent),
        causation_id=causation_id,
        flow_id=flow_id,
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


@contextmanager
def child() -> Iterator[Context]:
    """Run a block as a child operation of the current one (a traced flow step): the same ids,
    a new span id, so the calls it makes are its children."""
    parent = current()
    token = _current.set(replace(parent, traceparent=child_traceparent(parent.traceparent)))
    try:
        yield current()
    finally:
        _current.reset(token)


def caused_by(event_id: str) -> Context:
    ctx = replace(current(), causation_id=event_id)
    _current.set(ctx)
    return ctx


@contextmanager
def amended(**fields: str) -> Iterator[Context]:
    """Run a block with some fields of the current context replaced."""
    token = _current.set(replace(current(), **fields))
    try:
        yield current()
    finally:
        _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    ctx = current()
    headers = {}
    if ctx.correlation_id:
        headers["X-Correlation-ID"] = ctx.correlation_id
    if ctx.traceparent:
        headers["traceparent"] = child_traceparent(ctx.traceparent)
    for header, (name, _) in PLATFORM_HEADERS.items():
        value = getattr(ctx, name)
        if value:
            headers[header] = value
    return headers


class CorrelationMiddleware:
    """Pure ASGI: cheap, and it wraps everything so even early errors carry the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        correlation_id = incoming.get(CORRELATION_HEADER, "")
        if not _SAFE_ID.match(correlation_id):
            correlation_id = new_correlation_id()
        # Platform headers wait for the caller's token: see contracts/kit/platform_headers.py.
        with bound(correlation_id, incoming.get(TRACEPARENT_HEADER, "")) as ctx:

            async def send_with_ids(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((b"x-correlation-id", ctx.correlation_id.encode()))
                    # current(): with tracing on, the request's server span has taken ctx's place
                    headers.append((b"traceparent", current().traceparent.encode()))
                    message["headers"] = headers
                await send(message)

            await self.app(scope, receive, send_with_ids)
