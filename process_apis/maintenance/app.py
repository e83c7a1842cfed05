"""Maintenance process API: the composition root."""

from __future__ import annotations

from litestar import Litestar

from contracts.clients.caller_app import UPSTREAMS, caller_app
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, runtime_of
from contracts.kit.consumer import Consumer, consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.running import running_flows
from contracts.kit.lifetimes import Lifespan
from contracts.topology import by_name
from process_apis.maintenance import starts
from process_apis.maintenance.deps import Upstreams
from process_apis.maintenance.flows import FLOW_TYPES
from process_apis.maintenance.routes import ROUTES
from process_apis.maintenance.rules import load_rules
from process_apis.maintenance.settings import MaintenanceSettings
from process_apis.maintenance.store import maintenance_metadata

SOURCE = "/plantbridge/maintenance"

SPEC = ServiceSpec(
    by_name("maintenance"),
    title="Plantbridge maintenance process API",
    description="Durable maintenance flows: nonconformances on a machine → maintenance request, production "
    "hold, stock hold and supplier case; work order completion → spare parts, cost, CAPA, asset and "
    "production resumed, order closed; breakdown → one maintenance request; spares → one requisition.",
    routes=ROUTES,
    metadata=(flow_metadata, maintenance_metadata),
)


def _upstreams(app: Litestar, caller: Caller[MaintenanceSettings]) -> Upstreams:
    return Upstreams(
        erp=caller.client(ErpClient),
        qms=caller.client(QmsClient),
        cmms=caller.client(CmmsClient),
        mes=caller.client(MesClient),
        xref=caller.client(XrefClient),
        rules=load_rules(caller.settings.rules_file),
        db=runtime_of(app).db,
    )


def _work(caller: Caller[MaintenanceSettings]) -> list[Lifespan]:
    def consumers(app: Litestar) -> list[Consumer]:
        return [starts.subscribe(runtime_of(app).consumer(SPEC.name), app.state[UPSTREAMS].rules)]

    return [
        running_flows(SPEC.name, caller.settings, FLOW_TYPES, source=SOURCE, deps=UPSTREAMS),
        consumer_lifespan(consumers),
    ]


create_app = caller_app(SPEC, MaintenanceSettings, _upstreams, _work)
