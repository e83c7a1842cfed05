"""Maintenance process API: the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar

from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Caller, Outbound
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.consumer import consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.running import running_flows
from contracts.kit.lifetimes import kept
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
    caller = Caller.of(SPEC.name, MaintenanceSettings, settings, outbound, overrides)
    rules = load_rules(caller.settings.rules_file)
    return create_service_app(
        SPEC,
        caller.settings,
        lifespans=[
            kept("upstreams", lambda app: _upstreams(app, caller, rules)),
            running_flows(SPEC.name, caller.settings, FLOW_TYPES, source=SOURCE, deps="upstreams"),
            consumer_lifespan(lambda app: [starts.subscribe(runtime_of(app).consumer(SPEC.name), rules)]),
        ],
    )


def _upstreams(app: Litestar, caller: Caller[MaintenanceSettings], rules: MaintenanceRules) -> Upstreams:
    return Upstreams(
        erp=caller.client(ErpClient),
        qms=caller.client(QmsClient),
        cmms=caller.client(CmmsClient),
        mes=caller.client(MesClient),
        xref=caller.client(XrefClient),
        rules=rules,
        db=runtime_of(app).db,
    )
