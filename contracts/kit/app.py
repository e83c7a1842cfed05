"""The app factory every service uses: one place for defaults, so services only add routes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler
from redis.asyncio import Redis
from sqlalchemy import MetaData

from contracts.kit import audit, migrations
from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.auth import AuthMiddleware, TokenVerifier, document_security
from contracts.kit.consumer import Consumer
from contracts.kit.correlation import CorrelationMiddleware
from contracts.kit.db import Database
from contracts.kit.dependencies import resolve_sync_providers_inline
from contracts.kit.http_limits import RequestGuard
from contracts.kit.lifetimes import Lifespan
from contracts.kit.logs import configure_logging
from contracts.kit.observability import Metrics, ReadinessCheck, health_handlers
from contracts.kit.openapi import StrictStructSchemaPlugin, major_document_handler
from contracts.kit.paging import provide_page_query
from contracts.kit.platform_headers import PlatformClients, PlatformHeadersMiddleware
from contracts.kit.problems import EXCEPTION_HANDLERS
from contracts.kit.relay import OutboxRelay
from contracts.kit.relay import running as relay_running
from contracts.kit.revocation import following
from contracts.kit.settings import ServiceSettings, load_settings
from contracts.kit.strict_body import document_json_bodies, strict_json_body
from contracts.kit.strict_query import StrictQuery, StrictQueryMiddleware, document_strict_queries
from contracts.kit.tracing import setup as setup_tracing
from contracts.kit.unit_of_work import UnitOfWorkMiddleware, provide_session
from contracts.kit.versioning import ApiVersion, Deprecation, DeprecationMiddleware, document_deprecation

D = TypeVar("D")
S = TypeVar("S", bound=ServiceSettings)
S_contra = TypeVar("S_contra", bound=ServiceSettings, contravariant=True)


class TopologyEntry(Protocol):
    """A service's entry in the platform's topology (`contracts/topology.py`), as far as the kernel
    reads it. The kit is the layer below the topology, so it names the shape, not the module."""

    @property
    def name(self) -> str: ...

    @property
    def env_prefix(self) -> str: ...

    @property
    def package(self) -> str: ...

    def api_path(self, major: int) -> str: ...


@dataclass(frozen=True)
class ServiceSpec:
    """What makes one service different from another; everything else is the kernel's, or its
    topology entry's: its name, settings prefix and API path (`/<service>/v<major of
    api_version>`), and its own migrations in `<its package>/migrations/versions`."""

    service: TopologyEntry
    title: str
    description: str
    routes: Sequence[ControllerRouterHandler]
    # Its tables and the kernel tables it opts into (audit, flows); the kernel's idempotency,
    # outbox and inbox tables come with every service. Empty: no tables of its own.
    metadata: MetaData | tuple[MetaData, ...] = ()
    api_version: str = "1.0.0"  # of the document at `api_path`
    dependencies: dict[str, Provide] = field(default_factory=dict)
    # More major versions served beside `api_path` by the same app (contracts/kit/versioning.py).
    versions: Sequence[ApiVersion] = ()
    # Routes under `api_path` that authenticate each request themselves (webhook signatures):
    # no bearer token, and no Idempotency-Key answers kept (they would be shared by every
    # anonymous caller). The gateway forwards them without a token too.
    signed_routes: Sequence[ControllerRouterHandler] = ()

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def api_path(self) -> str:
        return self.service.api_path(int(self.api_version.split(".", 1)[0]))

    @property
    def versions_dir(self) -> Path:
        return migrations.versions_of(self.service.package)


@dataclass
class Runtime:
    """Process-wide resources of one service instance, reachable as `app.state.runtime`."""

    settings: ServiceSettings
    db: Database
    redis: Redis
    metrics: Metrics
    verifier: TokenVerifier | None = None

    def relay(self) -> OutboxRelay:
        """This service's outbox relay, keeping published events for the platform's retention."""
        return OutboxRelay(self.db, self.redis, retention=self.settings.event_retention)

    def consumer(self, group: str) -> Consumer:
        """A consumer group on this service's database and Redis, with the platform's retention."""
        return Consumer(
            db=self.db, redis=self.redis, group=group, inbox_retention=self.settings.event_retention
        )


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    lifespans: Sequence[Lifespan] = (),
    middleware: Sequence[DefineMiddleware] = (),
    deprecations: Sequence[Deprecation] = (),
    checks: Mapping[str, ReadinessCheck] | None = None,
) -> Litestar:
    """`checks`: readiness checks beside the database and Redis (a peer the service fronts)."""
    configure_logging(spec.name, settings.log_level)
    traced = setup_tracing(spec.name, settings)  # None, and no SDK import, unless an endpoint is set
    db = Database(settings.database_url, pool_timeout=settings.database_pool_timeout_seconds)
    # A service that migrates the audit table gets its recorder and `GET <api>/audit` with it.
    schema = spec.metadata if isinstance(spec.metadata, tuple) else (spec.metadata,)
    audited = audit.audit_metadata in schema
    if audited:
        audit.install(db)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    # Every API route needs a valid token; there is deliberately no setting that turns this off.
    verifier = TokenVerifier.from_settings(settings)
    runtime = Runtime(settings=settings, db=db, redis=redis, metrics=Metrics(spec.name), verifier=verifier)

    async def redis_ping() -> None:
        await redis.ping()

    @asynccontextmanager
    async def resources(_app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(
                migrations.upgrade, settings.database_url, spec.versions_dir, spec.metadata
            )
        logging.getLogger(spec.name).info("%s ready on %s", spec.title, spec.api_path)
        try:
            async with following(verifier.revocations, settings.redis_url):
                yield
        finally:
            await redis.aclose()
            await db.dispose()

    @asynccontextmanager
    async def relay(_app: Litestar) -> AsyncIterator[None]:
        # After `resources` (tables exist) and stopped before it closes Redis and the database.
        async with relay_running(runtime.relay()):
            yield

    retiring = {d.api_path: d for d in deprecations}
    platform_clients = PlatformClients.from_settings(settings.auth_issuer, settings.platform_clients)
    strict_query = StrictQuery()  # learns each route's query parameters once the app is built

    def api_router(path: str, routes: Sequence[ControllerRouterHandler]) -> Router:
        sunset = (
            [DefineMiddleware(cast(Any, DeprecationMiddleware), deprecation=retiring[path])]
            if path in retiring
            else []
        )
        return Router(
            path=path,
            route_handlers=[*routes, *(audit.audit_routes() if audited else [])],
            middleware=[
                *sunset,
                DefineMiddleware(AuthMiddleware, verifier=verifier, service=spec.name),
                DefineMiddleware(PlatformHeadersMiddleware, clients=platform_clients),
                DefineMiddleware(StrictQueryMiddleware, strict=strict_query),
                *middleware,
                DefineMiddleware(cast(Any, UnitOfWorkMiddleware)),  # a raw ASGI middleware
            ],
        )

    apis = [
        api_router(spec.api_path, spec.routes),
        *(api_router(v.api_path, v.routes) for v in spec.versions),
    ]
    signed = Router(path=spec.api_path, route_handlers=list(spec.signed_routes), middleware=list(middleware))
    if spec.signed_routes:
        apis.append(signed)
    majors = [(spec.api_path, spec.api_version), *((v.api_path, v.api_version) for v in spec.versions)]
    documents = [major_document_handler(spec.name, path, version) for path, version in majors]
    app = Litestar(
        route_handlers=[
            *apis,
            *documents,
            *health_handlers({"database": db.ping, "redis": redis_ping, **(checks or {})}, runtime.metrics),
        ],
        dependencies={
            "session": Provide(provide_session, sync_to_thread=False),
            "page_query": Provide(provide_page_query, sync_to_thread=False),  # lists, the audit trail
            **spec.dependencies,
        },
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[StrictStructSchemaPlugin()],
        before_request=strict_json_body,  # bodies as strict as the schema says
        openapi_config=OpenAPIConfig(
            title=spec.title,
            version=spec.api_version,
            description=spec.description,
            path=f"/{spec.name}/schema",  # every version; each major's own is under its api_path
            render_plugins=[JsonRenderPlugin()],
        ),
        request_max_body_size=settings.max_body_bytes,
        # Tracing first: it ends last, flushing the spans the workers made while stopping.
        lifespan=[
            *([traced.lifespan] if traced else []),
            resources,
            *([relay] if settings.outbox_relay else []),
            *lifespans,
        ],
        state=State({"runtime": runtime}),
        logging_config=None,
    )
    public = {route.path for route in signed.routes}
    for path in (spec.api_path, *(v.api_path for v in spec.versions)):
        document_security(
            app, api_path=path, service=spec.name, token_url=settings.auth_token_url, public=public
        )
    document_json_bodies(app)
    strict_query.learn(app)
    resolve_sync_providers_inline(app)
    document_strict_queries(app)
    for deprecation in deprecations:
        document_deprecation(app, deprecation)
    # Outermost, so even routing errors (404, 405) carry the correlation id and are counted.
    inner = runtime.metrics.middleware(RequestGuard(_true_allow_header(app), settings))
    outer: ASGIApp = CorrelationMiddleware(traced.middleware(inner) if traced else inner)
    app.asgi_handler = outer  # type: ignore[assignment]
    return app


class CreateApp(Protocol[S_contra]):
    def __call__(self, settings: S_contra | None = None, **overrides: Any) -> Litestar: ...


def service_app(spec: ServiceSpec, settings_type: type[S]) -> CreateApp[S]:
    """`create_app(settings=None, **overrides)` of a service that is its `spec` and nothing more:
    its settings as given, or read from its `<PREFIX>_*` variables with `overrides` winning."""

    def create_app(settings: S | None = None, **overrides: Any) -> Litestar:
        prefix = spec.service.env_prefix
        return create_service_app(spec, settings or load_settings(settings_type, prefix, **overrides))

    return create_app


def _true_allow_header(app: Litestar) -> ASGIApp:
    """Litestar 2.25's automatic OPTIONS answer lists only the methods of the first handler
    registered on a path; answer with every method the path really has."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            # The scope's path_template drops the ":type" of path parameters.
            methods.setdefault(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), set()).update(route.methods)
    allowed = {path: ", ".join(sorted(names)).encode() for path, names in methods.items()}
    inner = cast(ASGIApp, app.asgi_handler)

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await inner(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            if message["type"] == "http.response.start":
                methods = allowed.get(scope.get("path_template", ""))
                if methods:
                    message["headers"] = [
                        (k, methods if k.lower() == b"allow" else v) for k, v in message.get("headers", [])
                    ]
            await send(message)

        await inner(scope, receive, send_allow)

    return handler


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state["runtime"]
    return runtime


__all__ = ["Runtime", "ServiceSpec", "TopologyEntry", "create_service_app", "runtime_of", "service_app"]
