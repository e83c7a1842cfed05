"""One request through the gateway, followed as ONE trace across processes and events.

Gateway, ERP, QMS, the quality process and webhooks run as their own processes, each exporting
spans by OTLP/HTTP to a receiver in this test: a goods receipt of an inspection-required item,
posted through the gateway, becomes `erp.goods_receipt.posted.v1`, the quality process's flow, and
an inspection lot in QMS; webhooks fans the event out with a batch handler. Every hop must be in
the trace the caller started, with the right parent.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from plantbridge.processes import ServiceProcess
from tests.support.http import auth_headers
from tests.support.platform import Platform
from tests.support.wait import eventually
from tests.tracing.receiver import Receiver, Span, serving

SCOPES = ["erp:read", "erp:write"]


@pytest.fixture(scope="module")
def traced(launch, database_url, redis_server) -> Iterator[tuple[Platform, ServiceProcess, Receiver]]:
    with serving() as (receiver, endpoint), pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export within 0.1 s, not the default 5 s
        p = Platform(launch, database_url, "sqlite", "tracing_e2e", redis_server.url)
        p.start_gateway()  # the token issuer the services trust (not traced)
        # Services name the collector in their own setting...
        for name in ("erp", "qms"):
            p.start(name, otlp_endpoint=endpoint)
        p.start(
            "quality",
            **p.own_client("quality"),
            erp_url=p.services["erp"].url,
            qms_url=p.services["qms"].url,
            mes_url=p.services["erp"].url,  # unused by the receipt flow
            flow_max_backoff_seconds="1",
            otlp_endpoint=endpoint,
        )
        p.start("webhooks", **p.own_client("webhooks"), otlp_endpoint=endpoint)
        # ...the edge, a gateway replica routing to them, through the standard OpenTelemetry variable.
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        edge = p.start_edge()
        env.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        try:
            yield p, edge, receiver
        finally:
            p.stop()


def one(spans: list[Span], **match: str) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{match}: {found} in {spans}"
    return found[0]


def children(spans: list[Span], parent: Span, **match: str) -> list[Span]:
    return [
        s
        for s in spans
        if s.parent_id == parent.span_id and all(getattr(s, k) == v for k, v in match.items())
    ]


def test_a_receipt_through_the_gateway_is_one_trace_to_the_inspection_lot(traced) -> None:
    platform, gateway, receiver = traced
    tag = uuid.uuid4().hex[:6].upper()
    with httpx.Client(base_url=gateway.url, headers=auth_headers(SCOPES), timeout=10) as http:
        item = {"item_id": f"RM-{tag}", "description": "Steel bar", "inspection_required": True}
        assert http.post("/erp/v1/items", json=item).status_code == 201
        assert (
            http.post("/erp/v1/suppliers", json={"supplier_id": f"SUP-{tag}", "name": "Acme"}).status_code
            == 201
        )
        po = http.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": f"SUP-{tag}", "lines": [{"item_id": f"RM-{tag}", "quantity": 100}]},
        ).json()
        # The caller's own span: everything below must hang off it.
        trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
        receipt = http.post(
            "/erp/v1/goods-receipts",
            json={"po_id": po["po_id"], "quantity": 60, "location": "WH1"},
            headers={"traceparent": f"00-{trace_id}-{caller}-01", "X-Correlation-ID": f"corr-trace-{tag}"},
        )
    assert receipt.status_code == 201, receipt.text
    assert receipt.headers["traceparent"].split("-")[1] == trace_id

    # Each process exports on its own schedule: wait until the last hop of each is in.
    expected = {
        ("gateway", "server"),
        ("erp", "server"),
        ("quality", "flow receipt_inspection"),
        ("qms", "POST /qms/v1/inspection-lots"),
        ("webhooks", "consumer"),
    }

    def complete() -> list[Span] | None:
        spans = receiver.trace(trace_id)
        seen = {(s.service, s.kind) for s in spans} | {(s.service, s.name) for s in spans}
        return spans if expected <= seen else None

    spans = eventually(complete, what=f"every hop of trace {trace_id}")
    assert {"gateway", "erp", "quality", "qms", "webhooks"} <= {s.service for s in spans}

    # gateway: a server span under the caller's, a client span under it
    edge = one(spans, service="gateway", kind="server")
    assert edge.parent_id == caller
    assert (edge.name, edge.attributes["http.response.status_code"]) == ("POST /erp/v1/*", 201)
    assert edge.attributes["plantbridge.correlation_id"] == f"corr-trace-{tag}"
    proxied = one(spans, service="gateway", kind="client")
    assert proxied.parent_id == edge.span_id

    # ERP: its server span is the child of the gateway's client span
    posted = one(spans, service="erp", kind="server")
    assert posted.parent_id == proxied.span_id
    assert posted.name == "POST /erp/v1/goods-receipts"
    assert posted.attributes["http.route"] == "/erp/v1/goods-receipts"
    assert posted.attributes["plantbridge.correlation_id"] == f"corr-trace-{tag}"

    # the event: staged under the request, published by the relay, applied by the quality process
    created = one(spans, service="erp", kind="producer", name="create erp.goods_receipt.posted.v1")
    assert created.parent_id == posted.span_id
    event = next(
        e
        for e in platform.events("events.erp")
        if e.type == "erp.goods_receipt.posted.v1" and e.subject == receipt.json()["receipt_id"]
    )
    assert event.traceparent.split("-")[1:3] == [trace_id, created.span_id]  # the extension names it
    published = one(spans, service="erp", kind="producer", name="publish erp.goods_receipt.posted.v1")
    assert published.parent_id == created.span_id
    assert published.attributes["messaging.destination.name"] == "events.erp"
    applied = one(spans, service="quality", kind="consumer", name="process erp.goods_receipt.posted.v1")
    assert applied.parent_id == created.span_id
    assert applied.attributes["messaging.message.id"] == event.id
    # ... and fanned out by webhooks, whose handler takes the whole batch: a span per event all the same
    fanned = one(spans, service="webhooks", kind="consumer", name="process erp.goods_receipt.posted.v1")
    assert fanned.parent_id == created.span_id
    assert fanned.attributes["messaging.message.id"] == event.id

    # the flow the event started, its step, and the step's call to QMS
    flow = one(spans, service="quality", name="flow receipt_inspection")
    assert flow.parent_id == applied.span_id
    step = one(spans, service="quality", name="create_inspection_lot")
    assert step.parent_id == flow.span_id
    calls = children(spans, step, service="quality", kind="client")
    assert calls
    assert all(c.attributes["peer.service"] == "qms" for c in calls)
    lot = one(spans, service="qms", kind="server", name="POST /qms/v1/inspection-lots")
    assert lot.parent_id in {c.span_id for c in calls}
    assert lot.attributes["http.response.status_code"] == 201

    # nothing in the trace points at a span that was never recorded, bar the caller's own
    recorded = {s.span_id for s in spans}
    assert {s.parent_id for s in spans} - recorded == {caller}
    assert not [s for s in spans if s.error]


def test_a_caller_that_says_not_sampled_is_honoured_at_every_hop(traced) -> None:
    _platform, gateway, receiver = traced
    unsampled, sampled = secrets.token_hex(16), secrets.token_hex(16)
    with httpx.Client(base_url=gateway.url, headers=auth_headers(SCOPES), timeout=10) as http:
        for trace_id, flags in ((unsampled, "00"), (sampled, "01")):
            parent = f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
            answer = http.get("/erp/v1/items", headers={"traceparent": parent})
            assert answer.status_code == 200
            assert answer.headers["traceparent"].endswith(f"-{flags}")
    # Spans leave each process in order: once the sampled request's are in, the other's would be.
    eventually(lambda: {s.service for s in receiver.trace(sampled)} >= {"gateway", "erp"})
    assert receiver.trace(unsampled) == []


def under(spans: list[Span], ancestor: Span) -> list[Span]:
    """Every span below `ancestor` in the trace (children, their children, ...)."""
    found, frontier = [], {ancestor.span_id}
    while frontier:
        level = [s for s in spans if s.parent_id in frontier]
        found += level
        frontier = {s.span_id for s in level}
    return found


def test_database_and_redis_work_is_in_the_request_trace(traced) -> None:
    """The OpenTelemetry instrumentations of SQLAlchemy and Redis record under the span current
    when a statement or command runs: a service's SQL under its server span, the gateway's Redis
    pipeline (it counts callers of a deprecated API version) under the gateway's."""
    _platform, gateway, receiver = traced
    tag = uuid.uuid4().hex[:6].upper()
    made, read = secrets.token_hex(16), secrets.token_hex(16)
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        created = http.post(
            "/erp/v1/items",
            json={"item_id": f"DB-{tag}", "description": "Traced item"},
            headers={**auth_headers(SCOPES), "traceparent": f"00-{made}-{secrets.token_hex(8)}-01"},
        )
        assert created.status_code == 201, created.text
        lots = http.get(
            "/qms/v1/inspection-lots",
            params={"limit": 1},
            headers={**auth_headers(["qms:read"]), "traceparent": f"00-{read}-{secrets.token_hex(8)}-01"},
        )
        assert lots.status_code == 200, lots.text
        assert "deprecation" in lots.headers  # qms v1 is deprecated: the gateway counts the call in Redis

    def database(spans: list[Span]) -> list[Span]:
        return [s for s in spans if s.attributes.get("db.system") == "sqlite"]

    def written() -> list[Span] | None:
        spans = receiver.trace(made)
        posted = [s for s in spans if s.service == "erp" and s.kind == "server"]
        return spans if posted and database(under(spans, posted[0])) else None

    spans = eventually(written, what=f"ERP's SQL in trace {made}")
    posted = one(spans, service="erp", kind="server")
    statements = database(under(spans, posted))
    assert all(s.service == "erp" and s.kind == "client" for s in statements)
    insert = [
        s for s in statements if str(s.attributes.get("db.statement", "")).startswith("INSERT INTO items")
    ]
    assert insert, statements
    assert all(s.trace_id == made for s in statements)

    def counted() -> list[Span] | None:
        spans = receiver.trace(read)
        found = {(s.service, s.kind) for s in spans}
        redis = [s for s in spans if s.attributes.get("db.system") == "redis"]
        return spans if {("gateway", "server"), ("qms", "server")} <= found and redis else None

    spans = eventually(counted, what=f"the gateway's Redis pipeline and QMS's SQL in trace {read}")
    edge = one(spans, service="gateway", kind="server")
    redis = [s for s in spans if s.attributes.get("db.system") == "redis"]
    assert [s.parent_id for s in redis] == [edge.span_id]
    assert redis[0].service == "gateway"
    assert "HINCRBY" in str(redis[0].attributes.get("db.statement", "")) or "HINCRBY" in redis[0].name
    listed = one(spans, service="qms", kind="server")
    assert [s for s in database(under(spans, listed)) if "SELECT" in str(s.attributes.get("db.statement"))]
    # nothing dangles: every parent in the trace was recorded, bar the caller's own span
    assert len({s.parent_id for s in spans} - {s.span_id for s in spans}) == 1
    # and work outside any request (consumers reading streams, relays and runners polling their
    # tables) starts no trace of its own
    assert [s for s in receiver.spans if s.kind == "client" and not s.parent_id] == []
