"""MES system API: the composition root."""

from __future__ import annotations

from contracts.kit.app import ServiceSpec, service_app
from contracts.kit.audit import audit_metadata
from contracts.topology import by_name
from system_apis.mes.routes import ROUTES
from system_apis.mes.settings import MesSettings
from system_apis.mes.store import Base

SPEC = ServiceSpec(
    by_name("mes"),
    title="Plantbridge MES system API",
    description="Production orders and their operations, confirmations, batch completion, material "
    "consumption (genealogy) and equipment state.",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata),  # with the kernel's audit trail
)

create_app = service_app(SPEC, MesSettings)
