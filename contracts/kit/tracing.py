"""OpenTelemetry tracing across gateway, experience, process and system APIs and their events.

Off by default, and then free: without an OTLP endpoint (the `otlp_endpoint` setting, or the
standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) OpenTelemetry is
never imported, no middleware is added, and each hook below costs one global check. Then
`contracts.kit.correlation` alone gives every operation (a request, an event handler, a flow run)
a W3C traceparent and every outgoing call a child of it.

On, spans live in OpenTelemetry's own context: a request's SERVER span is the child of the
traceparent its caller sent (extracted by OpenTelemetry's propagator), calls made under it are
CLIENT spans whose context the propagator injects into the call's headers, and what the
OpenTelemetry instrumentations of SQLAlchemy and Redis record (installed with tracing) hangs
under the span current when the statement or command ran. Each span made current here is also
the correlation context's traceparent for its block, so logs, events and stored flows name the
span that was running.

Events: staging an event in the outbox records a PRODUCER span ("create"); the event's
`traceparent` extension carries that span's context (CloudEvents: the trace the event started
in). The relay's PRODUCER span ("publish") and the consumer's CONSUMER span ("process") are
its children; a flow keeps the traceparent it was started under and its runs are its children.

The SDK side lives in `contracts.kit.tracing_sdk`, imported only by `setup` when tracing is on;
it does not import this module. One process has one tracer (as OpenTelemetry has one tracer
provider per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

from contracts.kit import correlation
from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.settings import ServiceSettings

SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = "server", "client", "producer", "consumer", "internal"
Attributes = Mapping[str, str | int | float | bool]
Headers = Iterable[tuple[bytes, bytes]]  # as ASGI hands them over
_TRACES_PATH = "/v1/traces"


class Span(Protocol):
    """What instrumented code may do with a live span."""

    def set(self, key: str, value: str | int | float | bool) -> None: ...

    def rename(self, name: str) -> None: ...

    def fail(self, description: str) -> None: ...


class LiveSpan(Span, Protocol):
    @property
    def traceparent(self) -> str:
        """The span's context as a W3C traceparent ("" when it has none)."""
        ...

    def current(self) -> AbstractContextManager[None]:
        """The span as the current one in OpenTelemetry's context, for a block."""
        ...

    def inject(self, headers: dict[str, str]) -> None:
        """Write the span's context into outgoing headers with the propagator."""
        ...

    def record(self, error: BaseException) -> None: ...

    def end(self) -> None: ...


class Tracer(Protocol):
    """Spans in OpenTelemetry's context (implemented by `tracing_sdk.SdkTracer`)."""

    def start(
        self,
        name: str,
        kind: str,
        attributes: Attributes,
        *,
        parent: str | None = None,
        headers: Headers | None = None,
    ) -> LiveSpan:
        """A started span, child of the context the propagator extracts from `headers`, else of
        the `parent` traceparent ("" starts a trace), else of the current span."""
        ...

    def shutdown(self) -> None: ...


_tracer: Tracer | None = None
_OFF: AbstractContextManager[None] = contextlib.nullcontext()  # reusable, so "off" allocates nothing


def enabled() -> bool:
    return _tracer is not None


def traces_url(settings: ServiceSettings, environ: Mapping[str, str] | None = None) -> str:
    """Where spans go, or "" for tracing off. The service's own setting wins over the standard
    variables; like `OTEL_EXPORTER_OTLP_ENDPOINT` it is a base URL (`/v1/traces` is appended)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    own = settings.otlp_endpoint.strip()
    if own:
        return _with_traces_path(own)
    full = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if full:
        return full  # the signal's own URL, used as given (as the SDK does)
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return _with_traces_path(base) if base else ""


def _with_traces_path(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(_TRACES_PATH) else base + _TRACES_PATH


class Tracing:
    """What an app factory wires when tracing is on: server spans and a flush on shutdown."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Server spans; place it inside `CorrelationMiddleware`, whose context it updates."""
        return _ServerSpans(app)

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """List it first among the lifespans: it ends last, after workers made their last spans."""
        try:
            yield
        finally:
            global _tracer
            if _tracer is self.tracer:
                _tracer = None
            # Exporting is blocking HTTP: keep it off the event loop.
            await asyncio.to_thread(self.tracer.shutdown)


def setup(service: str, settings: ServiceSettings) -> Tracing | None:
    """Tracing for this process, or None (and no OpenTelemetry import) when no endpoint is set.
    Call it before the service makes its database engine, which the instrumentation then sees."""
    global _tracer
    url = traces_url(settings)
    if not url:
        return None
    try:
        from contracts.kit.tracing_sdk import SdkTracer  # the only import of OpenTelemetry
    except ImportError as exc:
        raise RuntimeError(
            f"tracing to {url} needs the OpenTelemetry packages: pip install 'plantbridge[tracing]'"
        ) from exc

    tracer = _tracer = SdkTracer(service, url)
    return Tracing(tracer)


# --- hooks called by the kernel; each is a no-op while tracing is off ----------------------------
def server(
    name: str, headers: Headers, attributes: Attributes | None = None
) -> AbstractContextManager[Span | None]:
    """A SERVER span for one request, child of the trace context its headers carry, current for
    the block (the request's work and its calls are its children)."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    return _current(tracer.start(name, SERVER, attributes or {}, headers=headers))


def child(
    name: str, kind: str = INTERNAL, attributes: Attributes | None = None
) -> AbstractContextManager[Span | None]:
    """A span under the current one that becomes the current one for the block, so calls made
    inside it are its children (a flow step)."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    return _current(tracer.start(name, kind, attributes or {}))


def flow(flow_type: str, flow_id: str, parent: str) -> AbstractContextManager[Span | None]:
    """A span for one run of a flow's remaining steps; `parent` is the traceparent stored with
    the flow (what started it)."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    attributes = {"plantbridge.flow.type": flow_type, "plantbridge.flow.id": flow_id}
    return _current(tracer.start(f"flow {flow_type}", INTERNAL, attributes, parent=parent))


def processing(event_type: str, event_id: str, parent: str) -> AbstractContextManager[Span | None]:
    """A CONSUMER span for a handler applying an event, child of the event's traceparent."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    attributes = {**message_attributes("process", "", event_id), "cloudevents.event_type": event_type}
    return _current(tracer.start(f"process {event_type}", CONSUMER, attributes, parent=parent))


def client(
    method: str, service: str, base_url: object, path: str | bytes, headers: dict[str, str], attempt: int = 0
) -> AbstractContextManager[Span | None]:
    """A CLIENT span for one outgoing HTTP attempt. On, the propagator writes its context into
    `headers`, so the server span the attempt causes is its child (and each retry its own span)."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.full": str(base_url).rstrip("/") + (path.decode("latin-1") if isinstance(path, bytes) else path),
        "peer.service": service,
    }
    if attempt:
        attributes["http.request.resend_count"] = attempt
    live = tracer.start(f"{method} {service}", CLIENT, attributes)
    live.inject(headers)
    return _current(live)


def client_result(live: Span | None, status: int) -> None:
    if live is not None:
        live.set("http.response.status_code", status)
        if status >= 400:
            live.fail(f"HTTP {status}")


def staged(event_type: str, stream: str, event_id: str, parent: str) -> str:
    """Record staging an event in the outbox (a PRODUCER span under `parent`) and return the
    traceparent the event carries. Off: `parent` unchanged, as before tracing existed."""
    tracer = _tracer
    if tracer is None:
        return parent
    attributes = {**message_attributes("create", stream, event_id), "cloudevents.event_type": event_type}
    live = tracer.start(f"create {event_type}", PRODUCER, attributes, parent=parent)
    live.end()
    return live.traceparent or parent


def message_attributes(operation: str, stream: str, event_id: str) -> dict[str, str]:
    """OpenTelemetry messaging attributes of one event on a Redis stream."""
    attributes = {
        "messaging.system": "redis",
        "messaging.operation.type": operation,
        "messaging.message.id": event_id,
        "cloudevents.event_id": event_id,
    }
    if stream:
        attributes["messaging.destination.name"] = stream
    return attributes


def spans(kind: str, items: Sequence[tuple[str, str, Attributes]]) -> AbstractContextManager[None]:
    """One span per `(name, parent traceparent, attributes)` over one batched operation."""
    tracer = _tracer
    if tracer is None or not items:
        return _OFF
    return _batch(tracer, kind, items)


@contextmanager
def _current(live: LiveSpan) -> Iterator[Span]:
    with live.current(), correlation.amended(traceparent=live.traceparent):
        try:
            yield live
        except Exception as exc:
            live.record(exc)
            raise
        finally:
            live.end()


@contextmanager
def _batch(tracer: Tracer, kind: str, items: Sequence[tuple[str, str, Attributes]]) -> Iterator[None]:
    live = [tracer.start(name, kind, attributes, parent=parent) for name, parent, attributes in items]
    try:
        yield
    except Exception as exc:
        for s in live:
            s.record(exc)
        raise
    finally:
        for s in live:
            s.end()


class _ServerSpans:
    """A SERVER span per HTTP request, named by the route template once routing has found it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "plantbridge.correlation_id": correlation.current().correlation_id,
        }
        with server(method, scope["headers"], attributes) as live:
            try:
                await self.app(scope, receive, capture)
            finally:
                if live is not None:
                    server_result(live, method, scope.get("path_template") or "", status)


def server_result(live: Span, method: str, route: str, status: int) -> None:
    """Name a server span by its route and mark server errors (shared with the gateway's proxy)."""
    if route:
        live.rename(f"{method} {route}")
        live.set("http.route", route)
    live.set("http.response.status_code", status)
    if status >= 500:
        live.fail(f"HTTP {status}")


__all__ = [
    "CLIENT",
    "CONSUMER",
    "INTERNAL",
    "PRODUCER",
    "SERVER",
    "Span",
    "Tracing",
    "child",
    "client",
    "client_result",
    "enabled",
    "flow",
    "message_attributes",
    "processing",
    "server",
    "server_result",
    "setup",
    "spans",
    "staged",
    "traces_url",
]
