"""QMS system API: the composition root."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Litestar

from contracts.kit.app import ServiceSpec, create_service_app
from contracts.kit.audit import audit_metadata
from contracts.kit.documents import DocumentSettings, document_routes, documents_metadata
from contracts.kit.settings import load_settings
from contracts.kit.versioning import ApiVersion, Deprecation
from contracts.topology import by_name
from system_apis.qms import routes_v2
from system_apis.qms.routes import ROUTES
from system_apis.qms.settings import QmsSettings
from system_apis.qms.store import Base

QMS = by_name("qms")
V2 = QMS.api_path(2)  # inspection results as structured measurements, over the same data

SPEC = ServiceSpec(
    QMS,
    title="Plantbridge QMS system API",
    description="Inspection lots and results, usage decisions, nonconformances, supplier quality "
    "cases (SCAR), CAPA and the defect-code catalogue.",
    routes=ROUTES,
    metadata=(Base.metadata, audit_metadata, documents_metadata),  # the kernel's audit trail, documents
    versions=(ApiVersion(V2, "2.0.0", routes_v2.ROUTES),),
)


def create_app(settings: QmsSettings | None = None, **overrides: Any) -> Litestar:
    settings = settings or load_settings(QmsSettings, SPEC.service.env_prefix, **overrides)
    v1_retiring = Deprecation(
        SPEC.api_path, successor=V2, since=settings.v1_deprecated_since, sunset=settings.v1_sunset
    )
    documents = DocumentSettings.of(
        settings.documents_dir, settings.document_max_bytes, settings.document_types
    )
    [v2] = SPEC.versions
    v2 = replace(v2, routes=[*v2.routes, *document_routes(documents)])  # documents need the settings
    return create_service_app(replace(SPEC, versions=(v2,)), settings, deprecations=[v1_retiring])
