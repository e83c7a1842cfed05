"""A minimal service that mounts only the kernel's operator router (tests serve it in process, and
with uvicorn for the schemathesis run)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.operations import events_router
from contracts.kit.settings import ServiceSettings, load_settings
from contracts.kit.tables import metadata as kit_metadata
from contracts.topology import Api, Service

# No tables of its own (no tests/events/migrations): the kernel's, made as it starts.
SPEC = ServiceSpec(
    Service("ops", f"{__name__}:create_app", 0, "OPS", "experience", Api()),
    title="Operator surface under test",
    description="Only the event backbone's operator router.",
    routes=[events_router()],
)


@asynccontextmanager
async def kit_tables(app: Litestar) -> AsyncIterator[None]:
    async with runtime_of(app).db.engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
    yield


def create_app(**overrides: Any) -> Litestar:
    settings = load_settings(ServiceSettings, "OPS", migrate_on_start=False, outbox_relay=False, **overrides)
    return create_service_app(SPEC, settings, lifespans=[kit_tables])
