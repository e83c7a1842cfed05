"""The platform's topology, in one table: every deployable service, its port, its settings prefix,
the API the gateway routes to it (prefixes, scopes, rate limit) and the OAuth2 client it calls
others as. Adding a service or a scope is an edit here (docs/CONTRIBUTING.md, "A service").

Derived from it: the gateway's routes, its default upstreams and the scopes its RFC 8414 metadata
lists; each service's default port, upstream URLs and client, and its app's name, API path and
settings prefix (`ServiceSpec`, contracts/kit/app.py); the launcher (`plantbridge up`) and
`plantbridge serve`. Checked against it: compose.yaml (tests/unit/test_deployment_matches_launcher.py)
and the scopes each committed OpenAPI document declares (tests/unit/test_topology.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Layer = Literal["system", "process", "experience", "connector", "edge"]


@dataclass(frozen=True, slots=True)
class Limit:
    """`quota` requests per `window` seconds, per client (and per supplier when `per_supplier`)."""

    quota: int
    window: int
    per_supplier: bool = False

    def policy(self, name: str) -> str:
        # draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy: "name";q=100;w=60
        return f'"{name}";q={self.quota};w={self.window}'


@dataclass(frozen=True, slots=True)
class Api:
    """The API a service serves behind the gateway, at `/<service>/v<major>` for each major version
    (all of them share one rate limit)."""

    majors: tuple[int, ...] = (1,)
    # What the gateway requires of a read (GET, HEAD, OPTIONS) and of any other method;
    # None: `<service>:read` and `<service>:write`.
    read: tuple[str, ...] | None = None
    write: tuple[str, ...] | None = None
    # Every scope the service checks itself, exactly as its OpenAPI documents declare them;
    # None: the two above.
    checks: tuple[str, ...] | None = None
    limit: Limit = Limit(1200, 60)
    # Paths under this prefix authenticate with a webhook signature the service verifies: the
    # gateway passes them without a token, limited per `<prefix><source>` instead of per client.
    signed_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    name: str  # also the first path segment the gateway routes on
    factory: str  # "module:function" returning a Litestar app
    port: int
    env_prefix: str  # settings are read from <PREFIX>_* variables
    layer: Layer
    api: Api | None = None  # None: the gateway routes nothing to it
    uses_database: bool = True  # owns records (a PostgreSQL database in compose.yaml)
    # Services that call the layers below do it as their own OAuth2 client at the gateway.
    client_id: str = ""
    client_scopes: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.factory.split(":", 1)[0]

    @property
    def package(self) -> str:
        """The Python package the service is (its app module's): its own migrations live there."""
        return self.module.rpartition(".")[0]

    def api_path(self, major: int) -> str:
        """Where the gateway and the service serve major version `major` of its API."""
        return f"/{self.name}/v{major}"

    @property
    def local_url(self) -> str:
        """Its address on loopback, where the embedded platform runs it."""
        return f"http://127.0.0.1:{self.port}"

    # The scopes of its API (none without one), with the defaults filled in.
    @property
    def read_scopes(self) -> tuple[str, ...]:
        if self.api is None:
            return ()
        return (f"{self.name}:read",) if self.api.read is None else self.api.read

    @property
    def write_scopes(self) -> tuple[str, ...]:
        if self.api is None:
            return ()
        return (f"{self.name}:write",) if self.api.write is None else self.api.write

    @property
    def checked_scopes(self) -> tuple[str, ...]:
        if self.api is not None and self.api.checks is not None:
            return self.api.checks
        return tuple(dict.fromkeys((*self.read_scopes, *self.write_scopes)))


SERVICES: tuple[Service, ...] = (
    # erp:release: only quality takes stock out of BLOCKED or QUALITY_INSPECTION and lifts payment
    # holds (docs/holds.md).
    Service(
        "erp",
        "system_apis.erp.app:create_app",
        8101,
        "ERP",
        "system",
        Api(checks=("erp:read", "erp:write", "erp:release")),
    ),
    Service("qms", "system_apis.qms.app:create_app", 8102, "QMS", "system", Api(majors=(1, 2))),
    Service("cmms", "system_apis.cmms.app:create_app", 8103, "CMMS", "system", Api()),
    Service("mes", "system_apis.mes.app:create_app", 8104, "MES", "system", Api()),
    Service("xref", "system_apis.xref.app:create_app", 8105, "XREF", "system", Api()),
    Service(
        "quality",
        "process_apis.quality.app:create_app",
        8201,
        "QUALITY",
        "process",
        Api(checks=("quality:read", "quality:write", "quality:approve"), limit=Limit(600, 60)),
        client_id="quality-process",
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
        Api(limit=Limit(600, 60)),
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
        Api(read=("technician:app",), write=("technician:app",), limit=Limit(300, 60)),
        uses_database=False,
        client_id="technician-experience",
        client_scopes=("cmms:read", "cmms:write", "qms:read", "erp:read"),
    ),
    # Portal traffic is limited per client and also per supplier, so one supplier cannot starve
    # the others by registering several clients.
    Service(
        "supplier",
        "experience_apis.supplier_portal.app:create_app",
        8302,
        "SUPPLIER",
        "experience",
        Api(read=("supplier:portal",), write=("supplier:portal",), limit=Limit(120, 60, per_supplier=True)),
        uses_database=False,
        client_id="supplier-portal",
        client_scopes=("qms:read", "qms:write", "erp:read"),
    ),
    # Monitors need operations:read; the only writes are dead-letter replays (the service checks
    # events:read / events:replay on its operator routes itself).
    Service(
        "operations",
        "experience_apis.operations.app:create_app",
        8303,
        "OPERATIONS",
        "experience",
        Api(
            read=("operations:read",),
            write=("events:replay",),
            checks=("operations:read", "events:read", "events:replay"),
            limit=Limit(300, 60),
        ),
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
    # Partner webhooks out (the event streams) and in (mapped to QMS commands). The service checks
    # the subscription scopes itself, per route; inbound webhooks carry a signature, not a token.
    Service(
        "webhooks",
        "connectors.webhooks.app:create_app",
        8410,
        "WEBHOOKS",
        "connector",
        Api(
            read=(),
            write=(),
            checks=("webhooks:subscribe", "webhooks:read", "webhooks:operate"),
            limit=Limit(300, 60),
            signed_prefix="/webhooks/v1/inbound/",
        ),
        client_id="webhooks-connector",
        client_scopes=("qms:read", "qms:write"),
    ),
    # Machines over OPC UA and MQTT (Sparkplug B, JSON) drive MES state, downtime and counts. Its
    # API only reads; the gateway still asks shopfloor:write of anything else.
    Service(
        "shopfloor",
        "connectors.shopfloor.app:create_app",
        8401,
        "SHOPFLOOR",
        "connector",
        Api(checks=("shopfloor:read",), limit=Limit(300, 60)),
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


def routed_scopes() -> set[str]:
    """Every scope the gateway requires or a service's API checks."""
    return {
        scope
        for s in SERVICES
        if s.api is not None
        for scope in (*s.read_scopes, *s.write_scopes, *s.checked_scopes)
    }
