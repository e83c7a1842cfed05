"""The gateway: the composition root.

One ASGI callable. Paths under a routed prefix (`/<service>/v<n>/...`) go to the raw proxy;
everything else (token endpoints, well-known documents, health, metrics) to a small Litestar app.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.kit import migrations
from contracts.kit.auth import (
    AuthError,
    KeyCache,
    TokenVerifier,
    bearer_token,
    check_scopes,
    verified_claims,
)
from contracts.kit.breaker import CircuitBreaker
from contracts.kit.correlation import CorrelationMiddleware
from contracts.kit.db import Database
from contracts.kit.logs import configure_logging
from contracts.kit.observability import Metrics, health_handlers, metrics_response
from contracts.kit.problems import EXCEPTION_HANDLERS, problem_response
from contracts.kit.revocation import following
from contracts.kit.settings import load_settings
from contracts.kit.tracing import setup as setup_tracing
from contracts.topology import routed_scopes
from gateway import clients
from gateway.clients import RegisteredClient
from gateway.deprecations import DeprecationLedger
from gateway.keys import KeyRing
from gateway.oauth import (
    INTROSPECT_SCOPE,
    Authenticated,
    FormRequest,
    TokenServer,
    VerifiedToken,
    claimed_client_id,
    metadata,
    parse_form,
)
from gateway.proxy import GatewayMetrics, Proxy, ProxyConfig
from gateway.ratelimit import RateLimiter, Unavailable, Windows, script_evaluator
from gateway.routing import ROUTES, RouteTable, default_upstreams, parse_limit, parse_pairs, with_limits
from gateway.settings import GatewaySettings
from gateway.store import metadata as tables
from gateway.throttle import FailureThrottle, Networks, client_address, parse_networks

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
log = logging.getLogger("gateway")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The gateway's own surfaces: its reports and routing table, and its Prometheus metrics (which
# name every client); a Prometheus server scrapes with a client holding metrics:read.
GATEWAY_READ = "gateway:read"
METRICS_READ = "metrics:read"


@dataclass
class Gateway:
    settings: GatewaySettings
    db: Database
    redis: Redis
    keys: KeyRing
    verifier: TokenVerifier
    tokens: TokenServer
    proxy: Proxy
    table: RouteTable
    throttle: FailureThrottle
    trusted_proxies: Networks
    metrics: Metrics

    @property
    def base_url(self) -> str:
        return (self.settings.public_url or self.settings.issuer).rstrip("/")

    def source(self, request: Request[Any, Any, Any]) -> str:
        peer = request.client.host if request.client else ""
        return client_address(peer, request.headers.get("x-forwarded-for", ""), self.trusted_proxies)

    def scopes(self) -> list[str]:
        """Every scope a token from this gateway can carry and something checks (RFC 8414)."""
        return sorted({*routed_scopes(), GATEWAY_READ, METRICS_READ, INTROSPECT_SCOPE})


def _gateway(request: Request[Any, Any, Any]) -> Gateway:
    gateway: Gateway = request.app.state["gateway"]
    return gateway


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )


@post("/oauth2/token", status_code=200, include_in_schema=False)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    """RFC 6749 §4.4: client credentials; errors are RFC 6749 §5.2 JSON, as OAuth2 clients expect."""
    gw = _gateway(request)
    await gw.keys.ensure_fresh()
    return await _client_call(request, "/oauth2/token", gw.tokens.token_response)


@post("/oauth2/introspect", status_code=200, include_in_schema=False)
async def introspect(request: Request[Any, Any, Any]) -> Response[bytes]:
    """RFC 7662: the caller authenticates as a registered client."""
    gw = _gateway(request)
    raw = parse_form(await request.body()).get("token", "")
    verified: VerifiedToken | None = None
    if raw:
        try:
            verified = VerifiedToken(await gw.verifier.verify(raw), verified_claims(raw))
        except AuthError:
            verified = None
    if verified is not None and verified.principal.issuer == gw.settings.issuer:
        # Our own client's token: a disabled client's tokens are inactive even before the
        # revocation reaches this process.
        async with gw.db.transaction() as session:
            owner = await clients.find(session, verified.principal.client_id)
        if owner is None or not owner.active:
            verified = None
    return await _client_call(
        request, "/oauth2/introspect", functools.partial(gw.tokens.introspection_response, token=verified)
    )


async def _client_call(
    request: Request[Any, Any, Any],
    path: str,
    respond: Callable[[FormRequest, RegisteredClient | None], Authenticated],
) -> Response[bytes]:
    """An endpoint where the caller authenticates with its client secret: throttled failures
    (gateway/throttle.py) around Authlib's endpoint, which runs in a worker thread (scrypt)."""
    gw = _gateway(request)
    form = parse_form(await request.body())
    headers = request.headers  # case-insensitive
    client_id = claimed_client_id(headers, form)
    source = gw.source(request)
    attempt = await gw.throttle.check(client_id, source)
    if attempt.retry_after:
        log.warning("client authentication throttled", extra={"client": client_id, "source": source})
        return problem_response(
            429,
            "authentication-throttled",
            "Too many failed authentications",
            f"{attempt.reason} Retry after {attempt.retry_after} s.",
            headers={"Retry-After": str(attempt.retry_after), **_NO_STORE},
        )
    client: RegisteredClient | None = None
    if client_id:
        async with gw.db.transaction() as session:
            client = await clients.find(session, client_id) or RegisteredClient.unknown(client_id)
    oauth_request = FormRequest(f"{gw.base_url}{path}", headers, form)
    (status, body, extra), authenticated = await asyncio.to_thread(respond, oauth_request, client)
    try:
        if authenticated is False:
            log.warning("client authentication failed", extra={"client": client_id, "source": source})
            await gw.throttle.failed(client_id, source, attempt)
        elif authenticated and client_id:
            await gw.throttle.succeeded(client_id, source)
    except Unavailable:
        pass  # the answer stands; the counters are down and fail closed for the next request
    if status == 200 and path == "/oauth2/token":
        log.info("token issued", extra={"client": client_id, "scope": body.get("scope", "")})
    return _json(body, status, {**dict(extra), **_NO_STORE})


@get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    gw = _gateway(request)
    await gw.keys.ensure_fresh()
    return _json(gw.keys.jwks(), headers={"Cache-Control": "public, max-age=60"})


@get("/.well-known/oauth-authorization-server", include_in_schema=False)
async def server_metadata(request: Request[Any, Any, Any]) -> Response[bytes]:
    gw = _gateway(request)
    return _json(
        metadata(gw.base_url, gw.settings.issuer, gw.scopes()),
        headers={"Cache-Control": "public, max-age=300"},
    )


async def _refused(request: Request[Any, Any, Any], scopes: tuple[str, ...] = ()) -> Response[bytes] | None:
    """The problem answer when the request has no valid token with `scopes`, else None."""
    try:
        principal = await _gateway(request).verifier.verify(bearer_token(request.scope["headers"]))
        check_scopes(principal, scopes)
    except AuthError as error:
        return Response(
            error.body(),
            status_code=error.status,
            media_type="application/problem+json",
            headers={"WWW-Authenticate": error.www_authenticate()},
        )
    return None


@get("/gateway/deprecated-calls", include_in_schema=False)
async def deprecated_calls(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Which clients still call deprecated API versions, and how often (scope `gateway:read`)."""
    refused = await _refused(request, (GATEWAY_READ,))
    if refused is not None:
        return refused
    return _json({"items": await _gateway(request).proxy.deprecations.report()})


@get("/gateway/routes", include_in_schema=False)
async def routes(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The routing table as this process sees it, internal upstream URLs included (scope `gateway:read`)."""
    gw = _gateway(request)
    refused = await _refused(request, (GATEWAY_READ,))
    if refused is not None:
        return refused
    return _json(
        [
            {
                "route": r.name,
                "prefix": r.prefix,
                "upstream": gw.table.upstreams[r.upstream],
                "read_scopes": r.read_scopes,
                "write_scopes": r.write_scopes,
                "limit": {
                    "quota": r.limit.quota,
                    "window": r.limit.window,
                    "per_supplier": r.limit.per_supplier,
                },
            }
            for r in gw.table.routes.values()
        ]
    )


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics (scope `metrics:read`): they name every client and its traffic."""
    refused = await _refused(request, (METRICS_READ,))
    return refused or metrics_response(_gateway(request).metrics)


def _unavailable(_request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Redis unreachable under a handler: a 503 problem, never a 500."""
    log.warning("Redis unreachable: %s", exc)
    return problem_response(
        503,
        "dependency-unavailable",
        "Temporarily unavailable",
        "A store the gateway needs for this answer is unreachable; retry shortly.",
        headers={"Retry-After": "1"},
    )


class GatewayApp:
    """Dispatches on the path: the proxy for routed prefixes, Litestar for the rest."""

    def __init__(self, litestar: Litestar, gateway: Gateway) -> None:
        self.litestar = litestar
        self.gateway = gateway
        self._match = gateway.table.match
        self._proxy = gateway.proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            route = self._match(scope["path"])
            if route is not None:
                await self._proxy(scope, receive, send, route)
                return
        await self.litestar(scope, receive, send)


def create_app(settings: GatewaySettings | None = None, **overrides: Any) -> GatewayApp:
    settings = settings or load_settings(GatewaySettings, "GATEWAY", **overrides)
    configure_logging("gateway", settings.log_level)
    traced = setup_tracing("gateway", settings)  # None, and no SDK import, unless an endpoint is set
    db = Database(settings.database_url)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
    counters_url = settings.rate_limit_redis_url or settings.redis_url
    counters = Redis.from_url(counters_url, socket_connect_timeout=0.5, socket_timeout=1.0)
    windows = Windows(script_evaluator(counters_url, counters), fail_open=settings.rate_limit_fail_open)
    keys = KeyRing(db, settings)
    verifier = TokenVerifier.from_settings(settings)
    # Our own tokens are checked against the key ring itself: no HTTP call to ourselves.
    verifier.trust(settings.issuer, KeyCache(keys.public_keys, min_interval=settings.key_reload_seconds))
    upstreams = {**default_upstreams(), **parse_pairs(settings.upstreams)}
    table = RouteTable(with_limits(ROUTES, settings.rate_limits), upstreams)
    metrics = Metrics("gateway")
    proxy = Proxy(
        table,
        verifier,
        RateLimiter(windows),
        {
            name: CircuitBreaker(
                f"upstream {name}",
                threshold=settings.breaker_failures,
                cooldown=settings.breaker_open_seconds,
            )
            for name in upstreams
        },
        GatewayMetrics(metrics.registry),
        ProxyConfig(
            max_body_bytes=settings.max_body_bytes,
            timeout=settings.upstream_timeout_seconds,
            connect_timeout=settings.upstream_connect_timeout_seconds,
            cors_origins=frozenset(o.strip().encode() for o in settings.cors_origins.split(",") if o.strip()),
            access_log=settings.access_log,
        ),
        pool_size=settings.upstream_pool_size,
        deprecations=DeprecationLedger(redis, metrics.registry),
    )
    tokens = TokenServer(
        keys, issuer=settings.issuer, audience=settings.token_audience, ttl=settings.token_ttl_seconds
    )
    throttle = FailureThrottle(
        windows,
        per_client=parse_limit(settings.token_failures_per_client),
        per_source=parse_limit(settings.token_failures_per_source),
    )
    gateway = Gateway(
        settings,
        db,
        redis,
        keys,
        verifier,
        tokens,
        proxy,
        table,
        throttle,
        parse_networks(settings.trusted_proxies),
        metrics,
    )

    async def redis_ping() -> None:
        await redis.ping()
        await counters.ping()

    @asynccontextmanager
    async def resources(_app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrations.upgrade, settings.database_url, VERSIONS_DIR, tables)
        await keys.ensure_fresh(force=True)
        await proxy.start()
        # Everything loaded so far (Litestar, SQLAlchemy, Authlib: ~150k objects) lives as long as
        # the process: keep it out of the collector's full passes. Without this, each gen-2 pass
        # walked it all and stalled every request for 200-300 ms every 2-3 s under load (p99).
        gc.freeze()
        mode = "open (per process)" if settings.rate_limit_fail_open else "closed"
        log.info("gateway ready: %d routes, rate limiter fails %s without Redis", len(table.routes), mode)
        if (
            settings.key_publish_ahead_seconds
            <= settings.auth_jwks_max_age_seconds + settings.key_reload_seconds
        ):
            log.warning(
                "GATEWAY_KEY_PUBLISH_AHEAD_SECONDS (%s) is not longer than services keep key sets"
                " (%s s) plus the key reload (%s s): a rotation may lock fresh tokens out",
                settings.key_publish_ahead_seconds,
                settings.auth_jwks_max_age_seconds,
                settings.key_reload_seconds,
            )
        try:
            async with following(verifier.revocations, settings.redis_url):
                yield
        finally:
            await proxy.stop()
            await redis.aclose()
            await counters.aclose()
            await db.dispose()

    litestar = Litestar(
        route_handlers=[
            token,
            introspect,
            jwks,
            server_metadata,
            routes,
            deprecated_calls,
            metrics_endpoint,
            *health_handlers({"database": db.ping, "redis": redis_ping}, metrics, serve_metrics=False),
        ],
        exception_handlers={**EXCEPTION_HANDLERS, RedisError: _unavailable, Unavailable: _unavailable},
        openapi_config=None,
        request_max_body_size=65_536,
        lifespan=[*([traced.lifespan] if traced else []), resources],  # tracing flushes last
        state=State({"gateway": gateway}),
        logging_config=None,
    )
    # The proxy handles correlation itself (one header pass); the rest gets the kernel middleware.
    inner = metrics.middleware(cast(Any, litestar.asgi_handler))
    litestar.asgi_handler = cast(
        ASGIApp, CorrelationMiddleware(traced.middleware(inner) if traced else inner)
    )
    return GatewayApp(litestar, gateway)


__all__ = ["Gateway", "GatewayApp", "create_app"]
