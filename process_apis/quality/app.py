"""Quality process API: the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar

from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Outbound
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.audit import audit_metadata
from contracts.kit.consumer import consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.engine import FlowRunner
from contracts.kit.lifetimes import Lifespan, background, from_state, kept
from contracts.kit.settings import load_settings
from contracts.topology import by_name
from process_apis.quality import starts
from process_apis.quality.deps import Upstreams
from process_apis.quality.flow_types import FLOW_TYPES
from process_apis.quality.flows import SOURCE
from process_apis.quality.mail import Mailer
from process_apis.quality.reconciliation import Job
from process_apis.quality.routes import ROUTES
from process_apis.quality.rules import QualityRules, load_rules
from process_apis.quality.settings import QualitySettings
from process_apis.quality.store import quality_metadata

SPEC = ServiceSpec(
    name="quality",
    title="Plantbridge quality process API",
    description="Durable quality flows: goods receipt → inspection, usage decision → stock, "
    "nonconformance, supplier case and MES batch status, production completion → inspection, "
    "nonconformance disposition → stock, payment holds and return settlements, MES consumption → "
    "ERP issues, procurement notice → purchase orders flagged and email; and reconciliation of QMS "
    "decisions with ERP stock and MES, with repairs.",
    api_path="/quality/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=(flow_metadata, quality_metadata, audit_metadata),  # disagreements and approvals are audited
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    dependencies={"upstreams": from_state("upstreams")},  # the requests that read through (traceability)
)


def create_app(
    settings: QualitySettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    settings = settings or load_settings(QualitySettings, "QUALITY", **overrides)
    rules = load_rules(settings.rules_file)
    outbound = outbound or Outbound.client_credentials(settings, by_name("quality").client_scopes)
    return create_service_app(
        SPEC,
        settings,
        lifespans=[
            kept("upstreams", lambda app: _upstreams(app, settings, rules, outbound)),
            _flow_runner(settings),
            consumer_lifespan(lambda app: [starts.subscribe(runtime_of(app).consumer("quality"), rules)]),
        ],
    )


def _upstreams(
    app: Litestar, settings: QualitySettings, rules: QualityRules, outbound: Outbound
) -> Upstreams:
    timeout = settings.upstream_timeout_seconds
    return Upstreams(
        erp=outbound.client(ErpClient, settings.erp_url, timeout=timeout),
        qms=outbound.client(QmsClient, settings.qms_url, timeout=timeout),
        rules=rules,
        mes=outbound.client(MesClient, settings.mes_url, timeout=timeout),
        xref=outbound.client(XrefClient, settings.xref_url, timeout=timeout),
        mailer=_mailer(settings),
        db=runtime_of(app).db,
    )


def _mailer(settings: QualitySettings) -> Mailer:
    return Mailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )


def _flow_runner(settings: QualitySettings) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        upstreams: Upstreams = app.state["upstreams"]
        runner = FlowRunner.configured(
            runtime.db, runtime.redis, settings, FLOW_TYPES, upstreams, source=SOURCE
        )
        job = Job(upstreams, runtime.db, settings.reconcile_mode, settings.reconcile_lookback_days)
        app.state["reconciliation"] = job
        work = {"quality-flows": runner.run()}
        if settings.reconcile_seconds > 0:
            work["quality-reconcile"] = job.loop(settings.reconcile_seconds)
        async with background(work):
            yield

    return lifespan
