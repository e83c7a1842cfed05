"""Quality process API: the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from contracts.clients.caller_app import UPSTREAMS, caller_app
from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, runtime_of
from contracts.kit.audit import audit_metadata
from contracts.kit.consumer import Consumer, consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.running import running_flows
from contracts.kit.lifetimes import Lifespan, background
from contracts.topology import by_name
from process_apis.quality import starts
from process_apis.quality.deps import Upstreams
from process_apis.quality.flow_types import FLOW_TYPES
from process_apis.quality.flows import SOURCE
from process_apis.quality.mail import Mailer
from process_apis.quality.reconciliation import Job
from process_apis.quality.routes import ROUTES
from process_apis.quality.rules import load_rules
from process_apis.quality.settings import QualitySettings
from process_apis.quality.store import quality_metadata

SPEC = ServiceSpec(
    by_name("quality"),
    title="Plantbridge quality process API",
    description="Durable quality flows: goods receipt → inspection, usage decision → stock, "
    "nonconformance, supplier case and MES batch status, production completion → inspection, "
    "nonconformance disposition → stock, payment holds and return settlements, MES consumption → "
    "ERP issues, procurement notice → purchase orders flagged and email; and reconciliation of QMS "
    "decisions with ERP stock and MES, with repairs.",
    routes=ROUTES,
    metadata=(flow_metadata, quality_metadata, audit_metadata),  # disagreements and approvals are audited
)


def _upstreams(app: Litestar, caller: Caller[QualitySettings]) -> Upstreams:
    return Upstreams(
        erp=caller.client(ErpClient),
        qms=caller.client(QmsClient),
        rules=load_rules(caller.settings.rules_file),
        mes=caller.client(MesClient),
        xref=caller.client(XrefClient),
        mailer=Mailer(caller.settings),
        db=runtime_of(app).db,
    )


def _work(caller: Caller[QualitySettings]) -> list[Lifespan]:
    def consumers(app: Litestar) -> list[Consumer]:
        return [starts.subscribe(runtime_of(app).consumer(SPEC.name), app.state[UPSTREAMS].rules)]

    return [
        running_flows(SPEC.name, caller.settings, FLOW_TYPES, source=SOURCE, deps=UPSTREAMS),
        _reconciliation(caller.settings),
        consumer_lifespan(consumers),
    ]


def _reconciliation(settings: QualitySettings) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        upstreams: Upstreams = app.state[UPSTREAMS]
        job = Job(upstreams, runtime_of(app).db, settings.reconcile_mode, settings.reconcile_lookback_days)
        app.state["reconciliation"] = job
        every = settings.reconcile_seconds  # 0: only when asked
        async with background({"quality-reconcile": job.loop(every)} if every > 0 else {}):
            yield

    return lifespan


create_app = caller_app(SPEC, QualitySettings, _upstreams, _work)
