"""Maintenance process API: the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar

from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Outbound
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.consumer import consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.engine import FlowRunner
from contracts.kit.lifetimes import Lifespan, background, kept
from contracts.kit.settings import load_settings
from contracts.topology import by_name
from process_apis.maintenance import starts
from process_apis.maintenance.deps import Upstreams
from process_apis.maintenance.flows import FLOW_TYPES
from process_apis.maintenance.routes import ROUTES
from process_apis.maintenance.rules import MaintenanceRules, load_rules
from process_apis.maintenance.settings import MaintenanceSettings
from process_apis.maintenance.store import maintenance_metadata

SOURCE = "/plantbridge/maintenance"

SPEC = ServiceSpec(
    name="maintenance",
    title="Plantbridge maintenance process API",
    description="Durable maintenance flows: nonconformances on a machine → maintenance request, production "
    "hold, stock hold and supplier case; work order completion → spare parts, cost, CAPA, asset and "
    "production resumed, order closed; breakdown → one maintenance request; spares → one requisition.",
    api_path="/maintenance/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=(flow_metadata, maintenance_metadata),
    versions_dir=Path(__file__).parent / "migrations" / "versions",
)


def create_app(
    settings: MaintenanceSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    settings = settings or load_settings(MaintenanceSettings, "MAINTENANCE", **overrides)
    rules = load_rules(settings.rules_file)
    outbound = outbound or Outbound.client_credentials(settings, by_name("maintenance").client_scopes)
    return create_service_app(
        SPEC,
        settings,
        lifespans=[
            kept("upstreams", lambda app: _upstreams(app, settings, rules, outbound)),
            _flow_runner(settings),
            consumer_lifespan(lambda app: [starts.subscribe(runtime_of(app).consumer("maintenance"), rules)]),
        ],
    )


def _upstreams(
    app: Litestar, settings: MaintenanceSettings, rules: MaintenanceRules, outbound: Outbound
) -> Upstreams:
    timeout = settings.upstream_timeout_seconds
    return Upstreams(
        erp=outbound.client(ErpClient, settings.erp_url, timeout=timeout),
        qms=outbound.client(QmsClient, settings.qms_url, timeout=timeout),
        cmms=outbound.client(CmmsClient, settings.cmms_url, timeout=timeout),
        mes=outbound.client(MesClient, settings.mes_url, timeout=timeout),
        xref=outbound.client(XrefClient, settings.xref_url, timeout=timeout),
        rules=rules,
        db=runtime_of(app).db,
    )


def _flow_runner(settings: MaintenanceSettings) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        upstreams: Upstreams = app.state["upstreams"]
        runner = FlowRunner.configured(
            runtime.db, runtime.redis, settings, FLOW_TYPES, upstreams, source=SOURCE
        )
        async with background({"maintenance-flows": runner.run()}):
            yield

    return lifespan
