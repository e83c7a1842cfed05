"""Every deployable service, in start order: the one table the launcher, compose.yaml and the
gateway's routes are checked against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Service:
    name: str  # also the first path segment the gateway routes on
    factory: str  # "module:function" returning a Litestar app
    port: int
    env_prefix: str  # settings are read from <PREFIX>_* variables
    layer: str
    uses_database: bool = True  # owns records (a PostgreSQL database in compose.yaml)
    # Services that call the layers below do it as their own OAuth2 client at the gateway.
    client_id: str = ""
    client_scopes: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.factory.split(":", 1)[0]


SERVICES: tuple[Service, ...] = (
    Service("erp", "system_apis.erp.app:create_app", 8101, "ERP", "system"),
    Service("qms", "system_apis.qms.app:create_app", 8102, "QMS", "system"),
    Service("cmms", "system_apis.cmms.app:create_app", 8103, "CMMS", "system"),
    Service("mes", "system_apis.mes.app:create_app", 8104, "MES", "system"),
    Service("xref", "system_apis.xref.app:create_app", 8105, "XREF", "system"),
    Service(
        "quality",
        "process_apis.quality.app:create_app",
        8201,
        "QUALITY",
        "process",
        client_id="quality-process",
        # erp:release: only quality takes stock out of BLOCKED or QUALITY_INSPECTION (docs/holds.md).
        client_scopes=(
            *("erp:read", "erp:write", "erp:release", "qms:read", "qms:write", "mes:read", "mes:write"),
            "xref:read",
        ),
    ),
    Service(
        "maintenance",
        "process_apis.maintenance.app:create_app",
        8202,
        "MAINTENANCE",
        "process",
        client_id="maintenance-process",
        client_scopes=(
            *("erp:read", "erp:write", "erp:release", "qms:read", "qms:write", "cmms:read", "cmms:write"),
            *("mes:read", "mes:write", "xref:read"),
        ),
    ),
    # Experience APIs own no records: a local SQLite file keeps only Idempotency-Key answers.
    Service(
        "technician",
        "experience_apis.technician.app:create_app",
        8301,
        "TECHNICIAN",
        "experience",
        uses_database=False,
        client_id="technician-experience",
        client_scopes=("cmms:read", "cmms:write", "qms:read", "erp:read"),
    ),
    Service(
        "supplier",
        "experience_apis.supplier_portal.app:create_app",
        8302,
        "SUPPLIER",
        "experience",
        uses_database=False,
        client_id="supplier-portal",
        client_scopes=("qms:read", "qms:write", "erp:read"),
    ),
    Service(
        "operations",
        "experience_apis.operations.app:create_app",
        8303,
        "OPERATIONS",
        "experience",
        uses_database=False,
        client_id="operations-console",
        client_scopes=(
            *("erp:read", "qms:read", "cmms:read", "mes:read"),
            *("quality:read", "quality:write", "quality:approve", "maintenance:read", "maintenance:write"),
            *("events:read", "events:replay"),
            *("webhooks:read", "webhooks:operate"),
            "shopfloor:read",
        ),
    ),
    # Partner webhooks out (the event streams) and in (mapped to QMS commands).
    Service(
        "webhooks",
        "connectors.webhooks.app:create_app",
        8410,
        "WEBHOOKS",
        "connector",
        client_id="webhooks-connector",
        client_scopes=("qms:read", "qms:write"),
    ),
    # Machines over OPC UA and MQTT (Sparkplug B, JSON) drive MES state, downtime and counts.
    Service(
        "shopfloor",
        "connectors.shopfloor.app:create_app",
        8401,
        "SHOPFLOOR",
        "connector",
        client_id="shopfloor-connector",
        client_scopes=("mes:read", "mes:write", "xref:read"),
    ),
    # Last: it starts after the upstreams it routes to.
    Service("gateway", "gateway.app:create_app", 8000, "GATEWAY", "edge"),
)


def by_name(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    known = ", ".join(s.name for s in SERVICES)
    raise KeyError(f"unknown service {name!r} (known: {known})")
