"""Cross-reference registry: the composition root."""

from __future__ import annotations

from contracts.kit.app import ServiceSpec, service_app
from contracts.kit.audit import audit_metadata
from contracts.topology import by_name
from system_apis.xref.routes import ROUTES
from system_apis.xref.settings import XrefSettings
from system_apis.xref.store import Base

SPEC = ServiceSpec(
    by_name("xref"),
    title="Plantbridge cross-reference registry",
    description="One canonical id per item, lot, supplier and equipment, each system's id for it "
    "(ERP, MES, CMMS, QMS, supplier) with validity periods, and translation between them at any instant.",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata),  # with the kernel's audit trail
)

create_app = service_app(SPEC, XrefSettings)
