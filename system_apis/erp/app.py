"""ERP system API: the composition root."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.audit import audit_metadata
from contracts.kit.settings import load_settings
from contracts.topology import by_name
from system_apis.erp import backends
from system_apis.erp.backends.tryton.store import metadata as connector_metadata
from system_apis.erp.port import ErpBackend, provide_operation
from system_apis.erp.routes import ROUTES
from system_apis.erp.settings import ErpSettings
from system_apis.erp.store import Base

SPEC = ServiceSpec(
    by_name("erp"),
    title="Plantbridge ERP system API",
    description="Items, suppliers, purchase orders, goods receipts, lots and stock status, "
    "inventory transactions and cost postings.",
    routes=ROUTES,
    # With the kernel's audit trail, and the Tryton connector's bindings and watermark (empty
    # tables when the ERP is embedded; one schema whichever backend a database was made with).
    metadata=(Base.metadata, connector_metadata, audit_metadata),
)


def create_app(settings: ErpSettings | None = None, **overrides: Any) -> Litestar:
    settings = settings or load_settings(ErpSettings, SPEC.service.env_prefix, **overrides)
    backend = backends.load(settings)

    def provide_backend() -> ErpBackend:
        return backend

    @asynccontextmanager
    async def run_backend(app: Litestar) -> AsyncIterator[None]:
        async with backend.lifespan(runtime_of(app)):
            yield

    spec = dataclasses.replace(
        SPEC,
        dependencies={
            "erp": Provide(provide_backend, use_cache=True, sync_to_thread=False),
            "op": Provide(provide_operation, sync_to_thread=False),
        },
    )
    return create_service_app(spec, settings, lifespans=[run_backend], checks=backend.readiness())
