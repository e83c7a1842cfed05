"""The hot path: a raw ASGI proxy (no framework routing) over one aiohttp ClientSession.

Per request: one dict lookup for the route, a cached token check, one Redis script for the
rate limit, one pooled keep-alive call upstream. Problems are RFC 9457 documents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from yarl import URL
from litestar.types import Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.kit import correlation
from contracts.kit.auth import AuthError, Principal, TokenVerifier, bearer_token, check_scopes
from contracts.kit.problems import problem_bytes
from gateway.breaker import Breaker
from gateway.ratelimit import Decision, RateLimiter
from gateway.routing import Route, RouteTable

access_log = logging.getLogger("gateway.access")
Headers = list[tuple[bytes, bytes]]

# Not forwarded in either direction (RFC 9110 §7.6.1), or set by us.
_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"content-length", b"x-correlation-id", b"traceparent",
    b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"forwarded",
})
_CORS_ALLOW_HEADERS = b"authorization, content-type, idempotency-key, if-match, x-correlation-id, traceparent"
_CORS_EXPOSE = b"ratelimit, ratelimit-policy, retry-after, x-correlation-id, traceparent, etag, location"
_PROBLEM = (b"content-type", b"application/problem+json")


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "plantbridge_gateway_requests", "Requests through the gateway", ["route", "client", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "plantbridge_gateway_request_seconds", "Gateway latency including the upstream", ["route"],
            registry=registry, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.limited = Counter(
            "plantbridge_gateway_rate_limited", "Requests refused by a rate limit", ["route", "client"],
            registry=registry,
        )


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
        breakers: dict[str, Breaker],
        metrics: GatewayMetrics,
        config: ProxyConfig,
        pool_size: int,
    ) -> None:
        self.table = table
        self.verifier = verifier
        self.limiter = limiter
        self.breakers = breakers
        self.metrics = metrics
        self.config = config
        self.pool_size = pool_size
        self.session: aiohttp.ClientSession | None = None
        self._upstreams = {name: url.rstrip("/") for name, url in table.upstreams.items()}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.pool_size, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.config.timeout, sock_connect=self.config.connect_timeout),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        started = time.perf_counter()
        exchange = _Exchange()
        origin = self._origin(scope)

        async def reply(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                if origin:
                    message["headers"] = [*message["headers"], *_cors_headers(origin)]
            await send(message)

        try:
            await self._handle(scope, receive, reply, route, exchange, origin)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(route.name, exchange.client, str(exchange.status)).inc()
            self.metrics.latency.labels(route.name).observe(elapsed)
            if self.config.access_log:
                access_log.info(
                    "%s %s %d", scope["method"], scope["path"], exchange.status,
                    extra={"route": route.name, "client": exchange.client, "status": exchange.status,
                           "ms": round(elapsed * 1000, 2), "upstream_ms": round(exchange.upstream_ms, 2)},
                )

    def _origin(self, scope: Scope) -> bytes | None:
        if not self.config.cors_origins:
            return None
        for name, value in scope["headers"]:
            if name == b"origin":
                return value if value in self.config.cors_origins else None
        return None

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, route: Route, exchange: _Exchange, origin: bytes | None
    ) -> None:
        method: str = scope["method"]
        headers: Headers = scope["headers"]
        if method == "OPTIONS" and origin is not None and any(n == b"access-control-request-method" for n, _ in headers):
            await _send(send, 204, b"", [(b"access-control-max-age", b"600"),
                                         (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
                                         (b"access-control-allow-headers", _CORS_ALLOW_HEADERS)])
            return
        path: str = scope["path"]
        if "/../" in path or "/./" in path or "//" in path or path.endswith(("/..", "/.")):
            await _problem(send, 400, "bad-path", "Bad path", "Paths may not contain empty, '.' or '..' segments.")
            return
        try:
            principal = await self.verifier.verify(bearer_token(headers))
            exchange.client = principal.client_id
            check_scopes(principal, route.scopes(method))
        except AuthError as error:
            policy = [(b"ratelimit-policy", route.limit.policy(route.name).encode())]
            await _send(send, error.status, error.body(), [*error.headers(), *policy])
            return
        decision = await self.limiter.hit(route, principal)
        limit_headers = decision.headers(route)
        if not decision.allowed:
            await self._refuse(send, route, principal, decision, limit_headers)
            return
        body = await _read_body(receive, self.config.max_body_bytes, headers)
        if body is None:
            await _problem(send, 413, "payload-too-large", "Request body too large",
                           f"Request bodies are limited to {self.config.max_body_bytes} bytes.", limit_headers)
            return
        await self._forward(scope, send, route, body, limit_headers, exchange)

    async def _refuse(
        self, send: Send, route: Route, principal: Principal, decision: Decision, limit_headers: Headers
    ) -> None:
        if decision.degraded:  # Redis is down and the limiter is set to fail closed
            await _problem(send, 503, "temporary-reduced-capacity", "Temporarily reduced capacity",
                           "The rate limiter is unavailable; retry shortly.",
                           [*limit_headers, (b"retry-after", b"1")])
            return
        self.metrics.limited.labels(route.name, principal.client_id).inc()
        retry = str(decision.retry_after).encode()
        await _problem(send, 429, "quota-exceeded", "Quota exceeded",
                       f"The rate limit {', '.join(decision.violated)} is spent; retry after {retry.decode()} s.",
                       [*limit_headers, (b"retry-after", retry)], violated_policies=decision.violated)

    async def _forward(
        self, scope: Scope, send: Send, route: Route, body: bytes, limit_headers: Headers, exchange: _Exchange
    ) -> None:
        breaker = self.breakers[route.upstream]
        if not breaker.allow():
            await _problem(send, 503, "upstream-unavailable", "Service unavailable",
                           f"The {route.upstream} service is unavailable; retry later.",
                           [*limit_headers, (b"retry-after", str(breaker.retry_after()).encode())])
            return
        assert self.session is not None
        query = scope.get("query_string", b"")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = self._upstreams[route.upstream] + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        outgoing = _upstream_headers(scope)
        started = time.perf_counter()
        try:
            async with self.session.request(
                scope["method"], URL(url, encoded=True), data=body or None, headers=outgoing,
                allow_redirects=False,
            ) as response:
                status = response.status
                out: Headers = [(k, v) for k, v in response.raw_headers if k.lower() not in _HOP]
                payload = await response.read()
        except TimeoutError:
            breaker.failure()
            await _problem(send, 504, "upstream-timeout", "Upstream timeout",
                           f"The {route.upstream} service did not answer in time.", limit_headers)
            return
        except aiohttp.ClientError as exc:
            breaker.failure()
            await _problem(send, 503, "upstream-unavailable", "Service unavailable",
                           f"The {route.upstream} service cannot be reached ({type(exc).__name__}).",
                           [*limit_headers, (b"retry-after", str(breaker.retry_after()).encode())])
            return
        finally:
            exchange.upstream_ms = (time.perf_counter() - started) * 1000
        breaker.success()
        await _send(send, status, payload, [*out, *limit_headers])


def _upstream_headers(scope: Scope) -> list[tuple[str, str]]:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in _HOP]
    headers.extend(correlation.outgoing_headers().items())
    client = scope.get("client")
    if client:
        headers.append(("X-Forwarded-For", str(client[0])))
    headers.append(("X-Forwarded-Proto", str(scope.get("scheme", "http"))))
    return headers


def _cors_headers(origin: bytes) -> Headers:
    return [(b"access-control-allow-origin", origin), (b"vary", b"Origin"),
            (b"access-control-expose-headers", _CORS_EXPOSE)]


async def _read_body(receive: Receive, limit: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return None  # refuse before reading a byte
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
    send: Send, status: int, slug: str, title: str, detail: str, headers: Sequence[tuple[bytes, bytes]] = (),
    **extensions: Any,
) -> None:
    body = problem_bytes(status, slug, title, detail)
    if extensions:
        doc = msgspec.json.decode(body)
        doc.update({k.replace("_", "-"): v for k, v in extensions.items()})
        body = msgspec.json.encode(doc)
    await _send(send, status, body, [_PROBLEM, *headers])


__all__ = ["GatewayMetrics", "Proxy", "ProxyConfig"]
