"""Supplier portal API: the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from sqlalchemy import MetaData

from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Outbound
from contracts.clients.qms import QmsClient
from contracts.clients.qms_documents import QmsDocumentsClient
from contracts.kit.app import ServiceSpec, create_service_app
from contracts.kit.lifetimes import from_state, kept
from contracts.kit.settings import load_settings
from contracts.topology import by_name
from experience_apis.supplier_portal.routes import ROUTES
from experience_apis.supplier_portal.service import Upstreams
from experience_apis.supplier_portal.settings import SupplierSettings

SPEC = ServiceSpec(
    name="supplier",
    title="Plantbridge supplier portal API",
    description="For the supplier named in the token only: its supplier quality cases with their "
    "nonconformances, answering a case, inspection results of its lots, and its scorecard. Another "
    "supplier's record is always 404.",
    api_path="/supplier/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=MetaData(),  # no tables of its own; the kernel adds its idempotency table
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    dependencies={"upstreams": from_state("upstreams")},
)


def create_app(
    settings: SupplierSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    settings = settings or load_settings(SupplierSettings, "SUPPLIER", **overrides)
    outbound = outbound or Outbound.client_credentials(settings, by_name("supplier").client_scopes)
    return create_service_app(
        SPEC, settings, lifespans=[kept("upstreams", lambda _: _upstreams(settings, outbound))]
    )


def _upstreams(settings: SupplierSettings, outbound: Outbound) -> Upstreams:
    timeout = settings.upstream_timeout_seconds
    return Upstreams(
        qms=outbound.client(QmsClient, settings.qms_url, timeout=timeout),
        # non-critical: answer without it
        erp=outbound.client(ErpClient, settings.erp_url, timeout=timeout, attempts=1),
        documents=outbound.client(QmsDocumentsClient, settings.qms_url, timeout=timeout),
    )
