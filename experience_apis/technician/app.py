"""Technician experience API: the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from sqlalchemy import MetaData

from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Outbound
from contracts.clients.qms import QmsClient
from contracts.kit.app import ServiceSpec, create_service_app
from contracts.kit.lifetimes import from_state, kept
from contracts.kit.settings import load_settings
from contracts.topology import by_name
from experience_apis.technician.routes import ROUTES
from experience_apis.technician.service import Upstreams
from experience_apis.technician.settings import TechnicianSettings

SPEC = ServiceSpec(
    name="technician",
    title="Plantbridge technician API",
    description="A technician's work orders with asset, history, nonconformance and spare parts "
    "in one answer; "
    "start, pause and complete work. Safe to retry (Idempotency-Key), delta sync (updated_since + cursor), "
    "ETag/If-None-Match and If-Match.",
    api_path="/technician/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=MetaData(),  # no tables of its own; the kernel adds its idempotency table
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    dependencies={"upstreams": from_state("upstreams")},
)


def create_app(
    settings: TechnicianSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    settings = settings or load_settings(TechnicianSettings, "TECHNICIAN", **overrides)
    outbound = outbound or Outbound.client_credentials(settings, by_name("technician").client_scopes)
    return create_service_app(
        SPEC, settings, lifespans=[kept("upstreams", lambda _: _upstreams(settings, outbound))]
    )


def _upstreams(settings: TechnicianSettings, outbound: Outbound) -> Upstreams:
    timeout = settings.upstream_timeout_seconds
    return Upstreams(
        cmms=outbound.client(CmmsClient, settings.cmms_url, timeout=timeout),
        qms=outbound.client(QmsClient, settings.qms_url, timeout=timeout),
        # non-critical: answer without it
        erp=outbound.client(ErpClient, settings.erp_url, timeout=timeout, attempts=1),
        history_limit=settings.history_limit,
        history_days=settings.history_days,
    )
