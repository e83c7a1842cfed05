"""The gateway: the composition root.

One ASGI callable. Paths under a routed prefix (`/<service>/v<n>/...`) go to the raw proxy;
everything else (token endpoints, well-known documents, health, metrics) to a small Litestar app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
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
from contracts.kit.observability import Metrics, health_handlers
from contracts.kit.problems import EXCEPTION_HANDLERS
from contracts.kit.settings import load_settings
from contracts.kit.tracing import setup as setup_tracing
from gateway import clients
from gateway.deprecations import DeprecationLedger
from gateway.keys import KeyCipher, KeyRing
from gateway.oauth import FormRequest, TokenServer, VerifiedToken, claimed_client_id, metadata, parse_form
from gateway.proxy import GatewayMetrics, Proxy, ProxyConfig
from gateway.ratelimit import RateLimiter, script_evaluator
from gateway.routing import ROUTES, RouteTable, default_upstreams, parse_pairs, with_limits
from gateway.settings import GatewaySettings
from gateway.store import metadata as tables

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
log = logging.getLogger("gateway")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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

    @property
    def base_url(self) -> str:
        return (self.settings.public_url or self.settings.issuer).rstrip("/")


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
    form = parse_form(await request.body())
    headers = request.headers  # case-insensitive
    client_id = claimed_client_id(headers, form)
    async with gw.db.transaction() as session:
        client = await clients.find(session, client_id) if client_id else None
    await gw.keys.ensure_fresh()
    oauth_request = FormRequest(f"{gw.base_url}/oauth2/token", headers, form)
    status, body, extra = await asyncio.to_thread(gw.tokens.token_response, oauth_request, client)
    if status == 200:
        log.info("token issued", extra={"client": client_id, "scope": body.get("scope", "")})
    return _json(body, status, {**dict(extra), **_NO_STORE})


@post("/oauth2/introspect", status_code=200, include_in_schema=False)
async def introspect(request: Request[Any, Any, Any]) -> Response[bytes]:
    """RFC 7662: the caller authenticates as a registered client."""
    gw = _gateway(request)
    form = parse_form(await request.body())
    headers = request.headers  # case-insensitive
    client_id = claimed_client_id(headers, form)
    async with gw.db.transaction() as session:
        client = await clients.find(session, client_id) if client_id else None
    verified: VerifiedToken | None = None
    raw = form.get("token", "")
    if raw:
        try:
            verified = VerifiedToken(await gw.verifier.verify(raw), verified_claims(raw))
        except AuthError:
            verified = None
    oauth_request = FormRequest(f"{gw.base_url}/oauth2/introspect", headers, form)
    status, body, extra = await asyncio.to_thread(
        gw.tokens.introspection_response, oauth_request, client, verified
    )
    return _json(body, status, {**dict(extra), **_NO_STORE})


@get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    gw = _gateway(request)
    await gw.keys.ensure_fresh()
    return _json(gw.keys.jwks(), headers={"Cache-Control": "public, max-age=60"})


@get("/.well-known/oauth-authorization-server", include_in_schema=False)
async def server_metadata(request: Request[Any, Any, Any]) -> Response[bytes]:
    gw = _gateway(request)
    scopes = sorted(
        {s for r in gw.table.routes.values() for s in (*r.read_scopes, *r.write_scopes, *r.extra_scopes)}
    )
    return _json(
        metadata(gw.base_url, gw.settings.issuer, scopes), headers={"Cache-Control": "public, max-age=300"}
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
    refused = await _refused(request, ("gateway:read",))
    if refused is not None:
        return refused
    return _json({"items": await _gateway(request).proxy.deprecations.report()})


@get("/gateway/routes", include_in_schema=False)
async def routes(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The routing table as this process sees it (needs a token; no secrets in it)."""
    gw = _gateway(request)
    refused = await _refused(request)
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
    keys = KeyRing(
        db,
        algorithm=settings.key_algorithm,
        token_ttl=settings.token_ttl_seconds,
        rotation_days=settings.key_rotation_days,
        reload_seconds=settings.key_reload_seconds,
        cipher=KeyCipher.from_setting(settings.key_encryption_key),
    )
    verifier = TokenVerifier.from_settings(settings)
    # Our own tokens are checked against the key ring itself: no HTTP call to ourselves.
    verifier.trust(settings.issuer, KeyCache(keys.public_keys, min_interval=settings.key_reload_seconds))
    upstreams = {**default_upstreams(), **parse_pairs(settings.upstreams)}
    table = RouteTable(with_limits(ROUTES, settings.rate_limits), upstreams)
    metrics = Metrics("gateway")
    proxy = Proxy(
        table,
        verifier,
        RateLimiter(script_evaluator(settings.redis_url, redis), fail_open=settings.rate_limit_fail_open),
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
    gateway = Gateway(settings, db, redis, keys, verifier, tokens, proxy, table)

    async def redis_ping() -> None:
        await redis.ping()

    @asynccontextmanager
    async def resources(_app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrations.upgrade, settings.database_url, VERSIONS_DIR, tables)
        await keys.ensure_fresh(force=True)
        await proxy.start()
        mode = "open" if settings.rate_limit_fail_open else "closed"
        log.info("gateway ready: %d routes, rate limiter fails %s without Redis", len(table.routes), mode)
        try:
            yield
        finally:
            await proxy.stop()
            await redis.aclose()
            await db.dispose()

    litestar = Litestar(
        route_handlers=[
            token,
            introspect,
            jwks,
            server_metadata,
            routes,
            deprecated_calls,
            *health_handlers({"database": db.ping, "redis": redis_ping}, metrics),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
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
