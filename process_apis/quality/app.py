"""Quality process API: the composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide

from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Outbound
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.audit import audit_metadata
from contracts.kit.consumer import Consumer, consumer_lifespan
from contracts.kit.flows import flow_metadata
from contracts.kit.flows.engine import FlowRunner
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


def provide_upstreams(request: Request[Any, Any, Any]) -> Upstreams:
    upstreams: Upstreams = request.app.state["upstreams"]
    return upstreams


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
    dependencies={"upstreams": Provide(provide_upstreams, sync_to_thread=False)},
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
            _flow_runner(settings, rules, outbound),
            consumer_lifespan(lambda app: [_consumer(app, rules)]),
        ],
    )


def _consumer(app: Litestar, rules: QualityRules) -> Consumer:
    return starts.subscribe(runtime_of(app).consumer("quality"), rules)


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


def _flow_runner(settings: QualitySettings, rules: QualityRules, outbound: Outbound) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        timeout = settings.upstream_timeout_seconds
        runtime = runtime_of(app)
        upstreams = Upstreams(
            erp=outbound.client(ErpClient, settings.erp_url, timeout=timeout),
            qms=outbound.client(QmsClient, settings.qms_url, timeout=timeout),
            rules=rules,
            mes=outbound.client(MesClient, settings.mes_url, timeout=timeout),
            xref=outbound.client(XrefClient, settings.xref_url, timeout=timeout),
            mailer=_mailer(settings),
            db=runtime.db,
        )
        app.state["upstreams"] = upstreams  # for the requests that read through (traceability)
        runner = FlowRunner.configured(
            runtime.db, runtime.redis, settings, FLOW_TYPES, upstreams, source=SOURCE
        )
        job = Job(upstreams, runtime.db, settings.reconcile_mode, settings.reconcile_lookback_days)
        app.state["reconciliation"] = job
        tasks = [asyncio.create_task(runner.run(), name="quality-flows")]
        if settings.reconcile_seconds > 0:
            tasks.append(asyncio.create_task(job.loop(settings.reconcile_seconds), name="quality-reconcile"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await upstreams.aclose()

    return lifespan
