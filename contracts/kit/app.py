"""The app factory every service uses: one place for defaults, so services only add routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import ControllerRouterHandler
from redis.asyncio import Redis
from sqlalchemy import MetaData

from contracts.kit import migrations
from contracts.kit.correlation import CorrelationMiddleware
from contracts.kit.db import Database
from contracts.kit.logs import configure_logging
from contracts.kit.observability import Metrics, health_handlers
from contracts.kit.openapi import StrictStructSchemaPlugin
from contracts.kit.problems import EXCEPTION_HANDLERS
from contracts.kit.settings import ServiceSettings
from contracts.kit.unit_of_work import UnitOfWorkMiddleware, provide_session

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """What makes one service different from another; everything else is the kernel's."""

    name: str
    title: str
    description: str
    api_path: str
    api_version: str
    routes: Sequence[ControllerRouterHandler]
    metadata: MetaData
    versions_dir: Path
    dependencies: dict[str, Provide] = field(default_factory=dict)


@dataclass
class Runtime:
    """Process-wide resources of one service instance, reachable as `app.state.runtime`."""

    settings: ServiceSettings
    db: Database
    redis: Redis
    metrics: Metrics


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    lifespans: Sequence[Lifespan] = (),
    middleware: Sequence[DefineMiddleware] = (),
) -> Litestar:
    configure_logging(spec.name, settings.log_level)
    db = Database(settings.database_url)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    runtime = Runtime(settings=settings, db=db, redis=redis, metrics=Metrics(spec.name))

    async def redis_ping() -> None:
        await redis.ping()

    @asynccontextmanager
    async def resources(_app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrations.upgrade, settings.database_url, spec.versions_dir, spec.metadata)
        logging.getLogger(spec.name).info("%s ready on %s", spec.title, spec.api_path)
        try:
            yield
        finally:
            await redis.aclose()
            await db.dispose()

    api = Router(
        path=spec.api_path,
        route_handlers=list(spec.routes),
        middleware=[
            *middleware,
            UnitOfWorkMiddleware,
        ],
    )
    app = Litestar(
        route_handlers=[api, *health_handlers({"database": db.ping, "redis": redis_ping}, runtime.metrics)],
        dependencies={"session": Provide(provide_session, sync_to_thread=False), **spec.dependencies},
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[StrictStructSchemaPlugin()],
        openapi_config=OpenAPIConfig(
            title=spec.title,
            version=spec.api_version,
            description=spec.description,
            path=f"{spec.api_path}/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        request_max_body_size=settings.max_body_bytes,
        lifespan=[resources, *lifespans],
        state={"runtime": runtime},
        logging_config=None,
    )
    # Outermost, so even routing errors (404, 405) carry the correlation id and are counted.
    app.asgi_handler = CorrelationMiddleware(runtime.metrics.middleware(app.asgi_handler))
    return app


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state["runtime"]
    return runtime


__all__ = ["Runtime", "ServiceSpec", "create_service_app", "runtime_of"]
