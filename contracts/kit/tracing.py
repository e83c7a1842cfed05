"""OpenTelemetry tracing across gateway, experience, process and system APIs and their events.

Off by default, and then free: without an OTLP endpoint (the `otlp_endpoint` setting, or the
standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) the OpenTelemetry
SDK is never imported, no middleware is added, and each hook below costs one global check.

On, spans take their ids from `contracts.kit.correlation`, which already gives every operation
(a request, an event handler, a flow run) a W3C traceparent and every outgoing call a child of
it. A span here is recorded *under those ids*, with the parent they were derived from, so
what travels on the wire is exactly what the non-tracing path sends, and a downstream server
span is the child of the caller's client span with no second propagation mechanism.

Events: staging an event in the outbox records a PRODUCER span ("create"); the event's
`traceparent` extension carries that span's context (CloudEvents: the trace the event started
in). The relay's PRODUCER span ("publish") and the consumer's CONSUMER span ("process") are
its children.

The SDK side lives in `contracts.kit.tracing_sdk`, imported only by `setup` when tracing is on.
One process has one recorder (as OpenTelemetry has one tracer provider per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

from contracts.kit import correlation
from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.settings import ServiceSettings

SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = "server", "client", "producer", "consumer", "internal"
Attributes = Mapping[str, str | int | float | bool]
_TRACES_PATH = "/v1/traces"


class Span(Protocol):
    """What instrumented code may do with a live span."""

    def set(self, key: str, value: str | int | float | bool) -> None: ...

    def rename(self, name: str) -> None: ...

    def fail(self, description: str) -> None: ...


class LiveSpan(Span, Protocol):
    def record(self, error: BaseException) -> None: ...

    def end(self) -> None: ...


class Recorder(Protocol):
    """Records spans under given ids (implemented by `tracing_sdk.SdkRecorder`)."""

    def start(
        self, name: str, kind: str, traceparent: str, parent: str, attributes: Attributes
    ) -> LiveSpan: ...

    def shutdown(self) -> None: ...


_recorder: Recorder | None = None
_OFF: AbstractContextManager[None] = contextlib.nullcontext()  # reusable, so "off" allocates nothing


def enabled() -> bool:
    return _recorder is not None


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

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Server spans; place it inside `CorrelationMiddleware`, whose ids it records."""
        return _ServerSpans(app, self.recorder)

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """List it first among the lifespans: it ends last, after workers made their last spans."""
        try:
            yield
        finally:
            global _recorder
            if _recorder is self.recorder:
                _recorder = None
            # Exporting is blocking HTTP: keep it off the event loop.
            await asyncio.to_thread(self.recorder.shutdown)


def setup(service: str, settings: ServiceSettings) -> Tracing | None:
    """Tracing for this process, or None (and no SDK import) when no endpoint is configured."""
    global _recorder
    url = traces_url(settings)
    if not url:
        return None
    try:
        from contracts.kit.tracing_sdk import SdkRecorder  # the only import of the SDK
    except ImportError as exc:
        raise RuntimeError(
            f"tracing to {url} needs the OpenTelemetry packages: pip install 'plantbridge[tracing]'"
        ) from exc

    _recorder = SdkRecorder(service, url)
    return Tracing(_recorder)


# --- hooks called by the kernel; each is a no-op while tracing is off ----------------------------
def span(
    name: str, kind: str, traceparent: str, parent: str, attributes: Attributes | None = None
) -> AbstractContextManager[Span | None]:
    """A span with the ids of `traceparent`, child of `parent` (both W3C traceparents)."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    return _recorded(recorder, name, kind, traceparent, parent, attributes or {})


def child(
    name: str, kind: str = INTERNAL, attributes: Attributes | None = None
) -> AbstractContextManager[Span | None]:
    """A span under the current operation that becomes the current one for the block, so calls
    made inside it are its children (a flow step)."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    return _nested(recorder, name, kind, attributes or {})


def flow(flow_type: str, flow_id: str, parent: str) -> AbstractContextManager[Span | None]:
    """A span for one run of a flow's remaining steps, under the correlation context the run
    was bound to; `parent` is the traceparent stored with the flow (what started it)."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    traceparent = correlation.current().traceparent
    attributes = {"plantbridge.flow.type": flow_type, "plantbridge.flow.id": flow_id}
    return _recorded(recorder, f"flow {flow_type}", INTERNAL, traceparent, parent, attributes)


def client(
    method: str, service: str, base_url: object, path: str | bytes, headers: dict[str, str], attempt: int = 0
) -> AbstractContextManager[Span | None]:
    """A CLIENT span for one outgoing HTTP attempt. On, it gives `headers` a traceparent of its
    own, so the server span the attempt causes is its child (and each retry its own span)."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    parent = correlation.current().traceparent
    headers["traceparent"] = traceparent = correlation.child_traceparent(parent)
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.full": str(base_url).rstrip("/") + (path.decode("latin-1") if isinstance(path, bytes) else path),
        "peer.service": service,
    }
    if attempt:
        attributes["http.request.resend_count"] = attempt
    return _recorded(recorder, f"{method} {service}", CLIENT, traceparent, parent, attributes)


def client_result(live: Span | None, status: int) -> None:
    if live is not None:
        live.set("http.response.status_code", status)
        if status >= 400:
            live.fail(f"HTTP {status}")


def staged(event_type: str, stream: str, event_id: str, parent: str) -> str:
    """Record staging an event in the outbox (a PRODUCER span) and return the traceparent the
    event carries. Off: `parent` unchanged, as before tracing existed."""
    recorder = _recorder
    if recorder is None:
        return parent
    traceparent = correlation.child_traceparent(parent)
    attributes = {**message_attributes("create", stream, event_id), "cloudevents.event_type": event_type}
    recorder.start(f"create {event_type}", PRODUCER, traceparent, parent, attributes).end()
    return traceparent


def processing(event_type: str, event_id: str, parent: str) -> AbstractContextManager[Span | None]:
    """A CONSUMER span for a handler applying an event, child of the event's traceparent; its
    ids are those of the correlation context the handler runs in."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    attributes = {**message_attributes("process", "", event_id), "cloudevents.event_type": event_type}
    traceparent = correlation.current().traceparent
    return _recorded(recorder, f"process {event_type}", CONSUMER, traceparent, parent, attributes)


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
    recorder = _recorder
    if recorder is None or not items:
        return _OFF
    return _batch(recorder, kind, items)


@contextmanager
def _recorded(
    recorder: Recorder, name: str, kind: str, traceparent: str, parent: str, attributes: Attributes
) -> Iterator[Span]:
    live = recorder.start(name, kind, traceparent, parent, attributes)
    try:
        yield live
    except Exception as exc:
        live.record(exc)
        raise
    finally:
        live.end()


@contextmanager
def _nested(recorder: Recorder, name: str, kind: str, attributes: Attributes) -> Iterator[Span]:
    parent = correlation.current().traceparent
    with (
        correlation.child() as ctx,
        _recorded(recorder, name, kind, ctx.traceparent, parent, attributes) as s,
    ):
        yield s


@contextmanager
def _batch(recorder: Recorder, kind: str, items: Sequence[tuple[str, str, Attributes]]) -> Iterator[None]:
    live = [recorder.start(n, kind, correlation.child_traceparent(p), p, a) for n, p, a in items]
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
    """A SERVER span per HTTP request: ids from the correlation context, parent from the incoming
    `traceparent`, named by the route template once routing has found it."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = ""
        for name, value in scope["headers"]:
            if name == b"traceparent":
                parent = value.decode("latin-1")
                break
        method: str = scope["method"]
        ctx = correlation.current()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "plantbridge.correlation_id": ctx.correlation_id,
        }
        with _recorded(self.recorder, method, SERVER, ctx.traceparent, parent, attributes) as live:
            try:
                await self.app(scope, receive, capture)
            finally:
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
    "server_result",
    "setup",
    "span",
    "spans",
    "staged",
    "traces_url",
]
