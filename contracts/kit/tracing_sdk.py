"""The OpenTelemetry side of `contracts.kit.tracing`: imported only when tracing is on.

A TracerProvider named after the service, a BatchSpanProcessor and the OTLP/HTTP protobuf
exporter; OpenTelemetry's own context holds the current span and its propagators carry it
(HTTP headers: the global propagator, W3C trace context unless `OTEL_PROPAGATORS` says
otherwise; traceparents stored with events and flows: W3C trace context). The SQLAlchemy and
Redis instrumentations are installed with it, so statements and commands are spans under
whatever span is current when they run.

A trace starts where work enters the platform: a request, an event, a flow run. A client span
with no parent at all (an outbox poll, a consumer's read, a migration: a database or Redis call
outside any traced work) starts none, so background loops do not fill the collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes as OtelAttributes

from contracts.kit import correlation

_W3C = TraceContextTextMapPropagator()


class _EntryPoints(Sampler):
    """Roots: every span but a client call made outside any trace."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: OtelAttributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is trace.SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "EntryPoints"


class _Live:
    __slots__ = ("span",)

    def __init__(self, span: trace.Span) -> None:
        self.span = span

    @property
    def traceparent(self) -> str:
        ids = self.span.get_span_context()
        if not ids.is_valid:
            return ""
        return f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"

    @contextmanager
    def current(self) -> Iterator[None]:
        token = context_api.attach(trace.set_span_in_context(self.span))
        try:
            yield
        finally:
            context_api.detach(token)

    def inject(self, headers: dict[str, str]) -> None:
        # A span not recorded (a caller said "not sampled", or a call outside any trace) leaves
        # the headers as the correlation context made them: the same trace and flags, if any.
        if self.span.is_recording():
            propagate.inject(headers, context=trace.set_span_in_context(self.span))

    def set(self, key: str, value: str | int | float | bool) -> None:
        self.span.set_attribute(key, value)

    def rename(self, name: str) -> None:
        self.span.update_name(name)

    def fail(self, description: str) -> None:
        self.span.set_status(trace.Status(trace.StatusCode.ERROR, description))

    def record(self, error: BaseException) -> None:
        self.span.record_exception(error)
        self.fail(f"{type(error).__name__}: {error}"[:300])

    def end(self) -> None:
        self.span.end()


class SdkTracer:
    def __init__(self, service: str, traces_url: str) -> None:
        # Parent-based: a caller that said "not sampled" (flags 00) is honoured downstream.
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service, "service.namespace": "plantbridge"}),
            sampler=ParentBased(_EntryPoints()),
        )
        # Batch size, queue and delay follow the standard OTEL_BSP_* variables.
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
        self.tracer = self.provider.get_tracer("plantbridge")
        # The process's provider, for any library that traces through OpenTelemetry's API.
        trace.set_tracer_provider(self.provider)
        # Engines made from now on (create_async_engine is wrapped) and every Redis client, for
        # the rest of the process's life. The SQLAlchemy instrumentation (0.66b) declares "< 2.1"
        # because it predates 2.1; the engine events it uses are unchanged, tests/tracing shows it.
        SQLAlchemyInstrumentor().instrument(tracer_provider=self.provider, skip_dep_check=True)
        RedisInstrumentor().instrument(tracer_provider=self.provider)

    def start(
        self,
        name: str,
        kind: str,
        attributes: Mapping[str, str | int | float | bool],
        *,
        parent: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> _Live:
        if headers is not None:
            context = propagate.extract({k.decode("latin-1"): v.decode("latin-1") for k, v in headers})
        elif parent is not None:
            context = _W3C.extract({"traceparent": parent})
        elif trace.get_current_span().get_span_context().is_valid:
            context = context_api.get_current()
        else:  # work the correlation context names but no span covers: under its traceparent
            context = _W3C.extract({"traceparent": correlation.current().traceparent})
        span = self.tracer.start_span(
            name, context=context, kind=trace.SpanKind[kind.upper()], attributes=attributes
        )
        return _Live(span)

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes the batch processor first


__all__ = ["SdkTracer"]
