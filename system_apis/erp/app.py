"""ERP system API: the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar

from contracts.kit.app import ServiceSpec, create_service_app
from contracts.kit.audit import audit_metadata
from contracts.kit.settings import load_settings
from system_apis.erp.routes import ROUTES
from system_apis.erp.settings import ErpSettings
from system_apis.erp.store import Base

SPEC = ServiceSpec(
    name="erp",
    title="Plantbridge ERP system API",
    description="Items, suppliers, purchase orders, goods receipts, lots and stock status, "
    "inventory transactions and cost postings.",
    api_path="/erp/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata),  # with the kernel's audit trail
    versions_dir=Path(__file__).parent / "migrations" / "versions",
)


def create_app(settings: ErpSettings | None = None, **overrides: Any) -> Litestar:
    return create_service_app(SPEC, settings or load_settings(ErpSettings, "ERP", **overrides))
