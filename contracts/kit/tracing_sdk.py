"""The OpenTelemetry SDK side of `contracts.kit.tracing`: imported only when tracing is on.

A TracerProvider named after the service, a BatchSpanProcessor and the OTLP/HTTP protobuf
exporter. Spans are started under ids chosen by the correlation context (see the module
docstring of `contracts.kit.tracing`) through an IdGenerator, the SDK's public seam for ids.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from contracts.kit.tracing import CLIENT, CONSUMER, INTERNAL, PRODUCER, SERVER, Attributes

# The same rule `contracts.kit.correlation` applies, so both read a traceparent alike.
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_KINDS = {
    SERVER: trace.SpanKind.SERVER,
    CLIENT: trace.SpanKind.CLIENT,
    PRODUCER: trace.SpanKind.PRODUCER,
    CONSUMER: trace.SpanKind.CONSUMER,
    INTERNAL: trace.SpanKind.INTERNAL,
}


def _ids(traceparent: str) -> tuple[int, int, int] | None:
    match = _TRACEPARENT.match(traceparent or "")
    if match is None:
        return None
    trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(match.group(3), 16)


class _WireIds(IdGenerator):
    """Hands the SDK the ids already on the wire; random ones when none are wanted."""

    def __init__(self) -> None:
        self.wanted: ContextVar[tuple[int, int] | None] = ContextVar("plantbridge_span_ids", default=None)

    def generate_span_id(self) -> int:
        wanted = self.wanted.get()
        return wanted[1] if wanted else secrets.randbits(64) or 1

    def generate_trace_id(self) -> int:
        wanted = self.wanted.get()
        return wanted[0] if wanted else secrets.randbits(128) or 1

    def is_trace_id_random(self) -> bool:
        return True  # correlation makes trace ids with `secrets`


class _Live:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, key: str, value: str | int | float | bool) -> None:
        self._span.set_attribute(key, value)

    def rename(self, name: str) -> None:
        self._span.update_name(name)

    def fail(self, description: str) -> None:
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, description))

    def record(self, error: BaseException) -> None:
        self._span.record_exception(error)
        self.fail(f"{type(error).__name__}: {error}"[:300])

    def end(self) -> None:
        self._span.end()


class SdkRecorder:
    def __init__(self, service: str, traces_url: str) -> None:
        self._ids = _WireIds()
        # Parent-based: a caller that said "not sampled" (flags 00) is honoured downstream; a
        # new trace is always sampled, matching the "01" correlation gives it.
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service, "service.namespace": "plantbridge"}),
            sampler=ParentBased(ALWAYS_ON),
            id_generator=self._ids,
        )
        # Batch size, queue and delay follow the standard OTEL_BSP_* variables.
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
        self.tracer = self.provider.get_tracer("plantbridge")

    def start(self, name: str, kind: str, traceparent: str, parent: str, attributes: Attributes) -> _Live:
        parent_ids = _ids(parent)
        context = context_api.Context()  # explicit: never whatever happens to be attached
        if parent_ids is not None:
            remote = trace.SpanContext(
                parent_ids[0], parent_ids[1], is_remote=True, trace_flags=trace.TraceFlags(parent_ids[2])
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote), context)
        own = _ids(traceparent)
        token = self._ids.wanted.set(own[:2] if own else None)
        try:
            span = self.tracer.start_span(name, context=context, kind=_KINDS[kind], attributes=attributes)
        finally:
            self._ids.wanted.reset(token)
        return _Live(span)

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes the batch processor first
