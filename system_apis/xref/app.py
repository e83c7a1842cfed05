"""Cross-reference registry: the composition root."""

from __future__ import annotations

from pathlib import Path

from contracts.kit.app import ServiceSpec, service_app
from contracts.kit.audit import audit_metadata
from contracts.topology import by_name
from system_apis.xref.routes import ROUTES
from system_apis.xref.settings import XrefSettings
from system_apis.xref.store import Base

SPEC = ServiceSpec(
    name="xref",
    title="Plantbridge cross-reference registry",
    description="One canonical id per item, lot, supplier and equipment, each system's id for it "
    "(ERP, MES, CMMS, QMS, supplier) with validity periods, and translation between them at any instant.",
    api_path="/xref/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata),  # with the kernel's audit trail
    versions_dir=Path(__file__).parent / "migrations" / "versions",
)

create_app = service_app(SPEC, XrefSettings, by_name(SPEC.name).env_prefix)
