"""CMMS system API: the composition root."""

from __future__ import annotations

from contracts.kit.app import ServiceSpec, service_app
from contracts.kit.audit import audit_metadata
from contracts.topology import by_name
from system_apis.cmms.routes import ROUTES
from system_apis.cmms.settings import CmmsSettings
from system_apis.cmms.store import Base

SPEC = ServiceSpec(
    by_name("cmms"),
    title="Plantbridge CMMS system API",
    description="Assets and their downtime, maintenance requests, and maintenance work orders with "
    "spare-part and labor lines.",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata),  # with the kernel's audit trail
)

create_app = service_app(SPEC, CmmsSettings)
