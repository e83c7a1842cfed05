"""The hot path: a raw ASGI proxy (no framework routing) over pooled keep-alive upstream connections.

Per request: one dict lookup for the route, a cached token check, one Redis script for the
rate limit, one pooled keep-alive call upstream. Problems are RFC 9457 documents.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import msgspec
from litestar.types import HTTPScope, Receive, Send
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from contracts.kit import correlation, http1, tracing
from contracts.kit.auth import AuthError, Principal, TokenVerifier, bearer_token, check_scopes
from contracts.kit.breaker import CircuitBreaker
from contracts.kit.problems import problem_bytes
from gateway.accesslog import AccessLog
from gateway.deprecations import DeprecationLedger, is_deprecated_answer
from gateway.ratelimit import Decision, RateLimiter
from gateway.routing import Route, RouteTable

Headers = list[tuple[bytes, bytes]]

# Not forwarded in either direction (RFC 9110 §7.6.1), or set by us. The platform headers (flow,
# causing event, whom a call acts for) are what the platform's own clients say when calling a
# service directly; from outside the gateway they would forge the audit trail's "why" and "who".
_HOP = frozenset(
    {
        *(name.lower().encode("latin-1") for name in correlation.PLATFORM_HEADERS),
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"x-correlation-id",
        b"traceparent",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"forwarded",
        b"expect",
        b"server",
        b"date",
    }
)
_CORS_ALLOW_HEADERS = b"authorization, content-type, idempotency-key, if-match, x-correlation-id, traceparent"
_CORS_EXPOSE = b"ratelimit, ratelimit-policy, retry-after, x-correlation-id, traceparent, etag, location"
_PROBLEM = (b"content-type", b"application/problem+json")


class GatewayMetrics:
    """Requests and latency per route and client, counted in plain dicts (a dict increment and a
    bisect per request) and handed to Prometheus at scrape time by this custom collector:
    prometheus_client's labelled Counter and Histogram cost ~8 µs a request here (a lock each and
    a bucket search in Python), more than the access log."""

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # route -> count per bucket (last: +Inf), then sum
        self.limited = Counter(
            "plantbridge_gateway_rate_limited",
            "Requests refused by a rate limit",
            ["route", "client"],
            registry=registry,
        )
        registry.register(self)

    def observe(self, route: str, client: str, status: int, seconds: float) -> None:
        key = (route, client, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        counts = self._latency.get(route)
        if counts is None:
            counts = self._latency[route] = [0.0] * (len(self.BUCKETS) + 2)
        counts[bisect_left(self.BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def describe(self) -> Iterator[Metric]:
        return iter(())  # names come from collect(); nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "plantbridge_gateway_requests",
            "Requests through the gateway",
            labels=["route", "client", "status"],
        )
        for (route, client, status), count in self._requests.items():
            requests.add_metric([route, client, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "plantbridge_gateway_request_seconds", "Gateway latency including the upstream", labels=["route"]
        )
        for route, counts in self._latency.items():
            cumulative = list(accumulate(counts[:-1]))
            edges = [*(repr(float(b)) for b in self.BUCKETS), "+Inf"]  # "10.0", as Prometheus writes it
            latency.add_metric([route], list(zip(edges, cumulative, strict=True)), counts[-1])
        yield latency


@dataclass
class ProxyConfig:
    max_body_bytes: int
    timeout: float
    connect_timeout: float
    cors_origins: frozenset[bytes]
    access_log: bool


class _Exchange:
    """What one request learned on its way through; read by the access log and metrics."""

    __slots__ = ("client", "status", "upstream_ms")

    def __init__(self) -> None:
        self.client = "-"
        self.status = 500
        self.upstream_ms = 0.0


class Proxy:
    def __init__(
        self,
        table: RouteTable,
        verifier: TokenVerifier,
        limiter: RateLimiter,
        breakers: dict[str, CircuitBreaker],
        metrics: GatewayMetrics,
        config: ProxyConfig,
        pool_size: int,
        deprecations: DeprecationLedger,
    ) -> None:
        self.table = table
        self.verifier = verifier
        self.limiter = limiter
        self.breakers = breakers
        self.metrics = metrics
        self.config = config
        self.pool_size = pool_size
        self.deprecations = deprecations
        self.pools: dict[str, http1.Pool] = {}
        self.access_log = AccessLog() if config.access_log else None

    async def start(self) -> None:
        if self.access_log is not None:
            self.access_log.start()
        for name, url in self.table.upstreams.items():
            self.pools[name] = http1.Pool(
                url,
                size=self.pool_size,
                connect_timeout=self.config.connect_timeout,
                timeout=self.config.timeout,
            )

    async def stop(self) -> None:
        if self.access_log is not None:
            await self.access_log.stop()
        for pool in self.pools.values():
            pool.close()

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send, route: Route) -> None:
        started = time.perf_counter()
        exchange = _Exchange()
        incoming = _Incoming(scope["headers"], self.config.cors_origins)
        # Correlation id and trace context, read or made by the kernel's rules, from the same pass
        # over the headers that found the token: no second header parse on the hot path.
        correlation_id = incoming.correlation_id
        if not correlation.SAFE_ID.match(correlation_id):
            correlation_id = correlation.new_correlation_id()
        ids: Headers = []
        if incoming.origin:
            ids += _cors_headers(incoming.origin)

        async def reply(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                message["headers"] = [*message["headers"], *ids]
            await send(message)

        with (
            correlation.bound(correlation_id, incoming.traceparent) as ctx,
            tracing.server(scope["method"], scope["headers"]) as live,
        ):
            ids += [
                (b"x-correlation-id", ctx.correlation_id.encode()),
                (b"traceparent", correlation.current().traceparent.encode()),  # the span's, when traced
            ]
            try:
                await self._handle(scope, receive, reply, route, exchange, incoming)
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.observe(route.name, exchange.client, exchange.status, elapsed)
                if live is not None:
                    _describe(live, scope, route, exchange, ctx.correlation_id)
                if self.access_log is not None:
                    self.access_log.write(
                        ctx.correlation_id,
                        scope["method"],
                        scope["path"],
                        route.name,
                        exchange.client,
                        exchange.status,
                        elapsed,
                        exchange.upstream_ms,
                    )

    async def _handle(
        self,
        scope: HTTPScope,
        receive: Receive,
        send: Send,
        route: Route,
        exchange: _Exchange,
        incoming: _Incoming,
    ) -> None:
        method: str = scope["method"]
        if method == "OPTIONS" and incoming.origin is not None and incoming.preflight:
            await _send(
                send,
                204,
                b"",
                [
                    (b"access-control-max-age", b"600"),
                    (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
                    (b"access-control-allow-headers", _CORS_ALLOW_HEADERS),
                ],
            )
            return
        path: str = scope["path"]
        if "/../" in path or "/./" in path or "//" in path or path.endswith(("/..", "/.")):
            await _problem(
                send, 400, "bad-path", "Bad path", "Paths may not contain empty, '.' or '..' segments."
            )
            return
        try:
            principal = signed_sender(route, path)
            if principal is None:
                if incoming.authorization is None:
                    bearer_token(())  # raises the "token needed" problem
                principal = await self.verifier.verify(
                    bearer_token(((b"authorization", incoming.authorization or b""),))
                )
                check_scopes(principal, route.scopes(method))
            exchange.client = principal.client_id
        except AuthError as error:
            policy = [(b"ratelimit-policy", route.limit.policy(route.name).encode())]
            await _send(send, error.status, error.body(), [*error.headers(), *policy])
            return
        if incoming.content_length > self.config.max_body_bytes:
            await self._too_large(send, [])
            return
        decision = await self.limiter.hit(route, principal)
        limit_headers = decision.headers(route)
        if not decision.allowed:
            await self._refuse(send, route, principal, decision, limit_headers)
            return
        # A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): no
        # receive() round trip through the server for it.
        body = await _read_body(receive, self.config.max_body_bytes) if incoming.has_body else b""
        if body is None:
            await self._too_large(send, limit_headers)
            return
        await self._forward(scope, send, route, body, limit_headers, exchange, incoming)

    async def _too_large(self, send: Send, headers: Headers) -> None:
        await _problem(
            send,
            413,
            "payload-too-large",
            "Request body too large",
            f"Request bodies are limited to {self.config.max_body_bytes} bytes.",
            headers,
        )

    async def _refuse(
        self, send: Send, route: Route, principal: Principal, decision: Decision, limit_headers: Headers
    ) -> None:
        if decision.unavailable:  # Redis is down and the limiter is set to fail closed
            await _problem(
                send,
                503,
                "temporary-reduced-capacity",
                "Temporarily reduced capacity",
                "The rate limiter is unavailable; retry shortly.",
                [*limit_headers, (b"retry-after", b"1")],
            )
            return
        self.metrics.limited.labels(route.name, principal.client_id).inc()
        retry = str(decision.retry_after).encode()
        await _problem(
            send,
            429,
            "quota-exceeded",
            "Quota exceeded",
            f"The rate limit {', '.join(decision.violated)} is spent; retry after {retry.decode()} s.",
            [*limit_headers, (b"retry-after", retry)],
            violated_policies=decision.violated,
        )

    async def _forward(
        self,
        scope: HTTPScope,
        send: Send,
        route: Route,
        body: bytes,
        limit_headers: Headers,
        exchange: _Exchange,
        incoming: _Incoming,
    ) -> None:
        breaker = self.breakers[route.upstream]
        if not breaker.allow():
            await _problem(
                send,
                503,
                "upstream-unavailable",
                "Service unavailable",
                f"The {route.upstream} service is unavailable; retry later.",
                [*limit_headers, (b"retry-after", str(breaker.retry_after()).encode())],
            )
            return
        query = scope.get("query_string", b"")
        target = scope.get("raw_path") or scope["path"].encode()
        if query:
            target += b"?" + query
        propagated = correlation.outgoing_headers()
        # With tracing on, the client span takes over the traceparent: the upstream's span is its child.
        call = tracing.client(
            scope["method"], route.upstream, self.table.upstreams[route.upstream], target, propagated
        )
        outgoing = [*incoming.forward, *[(k.lower().encode(), v.encode()) for k, v in propagated.items()]]
        client = scope.get("client")
        if client:
            outgoing.append((b"x-forwarded-for", str(client[0]).encode()))
        outgoing.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
        started = time.perf_counter()
        try:
            with call as span:
                status, headers, payload = await self.pools[route.upstream].request(
                    scope["method"], target, outgoing, body
                )
                tracing.client_result(span, status)
        except TimeoutError:
            breaker.failed()
            await _problem(
                send,
                504,
                "upstream-timeout",
                "Upstream timeout",
                f"The {route.upstream} service did not answer in time.",
                limit_headers,
            )
            return
        except http1.Unavailable as exc:
            breaker.failed()
            await _problem(
                send,
                503,
                "upstream-unavailable",
                "Service unavailable",
                f"The {route.upstream} service cannot be reached ({exc}).",
                [*limit_headers, (b"retry-after", str(breaker.retry_after()).encode())],
            )
            return
        finally:
            exchange.upstream_ms = (time.perf_counter() - started) * 1000
        breaker.succeeded()
        if is_deprecated_answer(status, headers):
            await self.deprecations.record(route.prefix, exchange.client)
        out = [(k, v) for k, v in headers if k.lower() not in _HOP]
        await _send(send, status, payload, [*out, *limit_headers])


def signed_sender(route: Route, path: str) -> Principal | None:
    """A webhook sender on the route's signed prefix (`/webhooks/v1/inbound/<source>`): no token,
    the upstream verifies the signature; rate-limited as `source:<name>`. None elsewhere."""
    prefix = route.signed_prefix
    if prefix is None or not path.startswith(prefix):
        return None
    source = path[len(prefix) :].split("/", 1)[0][:64]
    return Principal(client_id=f"source:{source}", subject="", issuer="", scopes=frozenset(), expires_at=0)


class _Incoming:
    """Everything the proxy needs from the request headers, in one pass."""

    __slots__ = (
        "authorization",
        "content_length",
        "correlation_id",
        "forward",
        "has_body",
        "origin",
        "preflight",
        "traceparent",
    )

    def __init__(self, headers: Iterable[tuple[bytes, bytes]], cors_origins: frozenset[bytes]) -> None:
        self.authorization: bytes | None = None
        self.correlation_id = ""
        self.traceparent = ""
        self.origin: bytes | None = None
        self.preflight = False
        self.content_length = 0
        self.has_body = False
        forward: Headers = []
        for name, value in headers:
            if name not in _HOP:
                forward.append((name, value))
                if name == b"authorization":
                    self.authorization = value
                elif name == b"origin":
                    self.origin = value if value in cors_origins else None
                elif name == b"access-control-request-method":
                    self.preflight = True
            elif name == b"x-correlation-id":
                self.correlation_id = value.decode("latin-1")
            elif name == b"traceparent":
                self.traceparent = value.decode("latin-1")
            elif name == b"content-length":
                self.content_length = int(value) if value.isdigit() else 0
                self.has_body = True
            elif name == b"transfer-encoding":
                self.has_body = True
        self.forward = forward


def _describe(
    live: tracing.Span, scope: HTTPScope, route: Route, exchange: _Exchange, correlation_id: str
) -> None:
    live.set("url.path", scope["path"])
    live.set("plantbridge.correlation_id", correlation_id)
    live.set("enduser.id", exchange.client)
    tracing.server_result(live, scope["method"], f"{route.prefix}/*", exchange.status)


def _cors_headers(origin: bytes) -> Headers:
    return [
        (b"access-control-allow-origin", origin),
        (b"vary", b"Origin"),
        (b"access-control-expose-headers", _CORS_EXPOSE),
    ]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _problem(
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    **extensions: Any,
) -> None:
    body = problem_bytes(status, slug, title, detail)
    if extensions:
        doc = msgspec.json.decode(body)
        doc.update({k.replace("_", "-"): v for k, v in extensions.items()})
        body = msgspec.json.encode(doc)
    await _send(send, status, body, [_PROBLEM, *headers])


__all__ = ["GatewayMetrics", "Proxy", "ProxyConfig"]
