"""A gateway in front of a real ERP process, both trusting the gateway's issuer and the test issuer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from plantbridge.processes import ServiceProcess, free_port
from tests.support.fixtures import GatewayCli, Launch

CLIENT_ID, CLIENT_SECRET = "erp-integration", "erp-integration-secret-0123456789"
SUPPLIER_CLIENT = ("portal-acme", "portal-acme-secret-0123456789")


@dataclass
class Stack:
    gateway: ServiceProcess
    erp: ServiceProcess
    database_url: str

    @property
    def issuer(self) -> str:
        return self.gateway.url


StartGateway = Callable[..., ServiceProcess]


@pytest.fixture(scope="module")
def start_gateway(launch: Launch, tmp_path_factory: pytest.TempPathFactory) -> StartGateway:
    """`start_gateway(database_url=None, port=None, **settings)`: a gateway whose issuer is its own URL."""

    def start(database_url: str | None = None, port: int | None = None, **settings: str) -> ServiceProcess:
        port = port or free_port()
        database_url = database_url or f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gw')}/gateway.db"
        issuer = f"http://127.0.0.1:{port}"
        defaults = {
            "issuer": issuer,
            "auth_issuer": issuer,
            "auth_jwks_url": f"{issuer}/.well-known/jwks.json",
        }
        return launch("gateway", database_url=database_url, port=port, **{**defaults, **settings})

    return start


@pytest.fixture(scope="module")
def stack(
    launch: Launch, start_gateway: StartGateway, gateway_cli: GatewayCli, database_url, tmp_path_factory
) -> Stack:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    gw_db = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gateway')}/gateway.db"
    gateway_cli(
        gw_db, "register-client", CLIENT_ID, "--scopes", "erp:read erp:write", "--secret", CLIENT_SECRET
    )
    gateway_cli(gw_db, "register-client", "erp-reader", "--scopes", "erp:read", "--secret", CLIENT_SECRET)
    gateway_cli(
        gw_db,
        "register-client",
        SUPPLIER_CLIENT[0],
        "--scopes",
        "supplier:portal erp:read",
        "--secret",
        SUPPLIER_CLIENT[1],
        "--supplier-id",
        "SUP-ACME",
    )
    erp = launch(
        "erp",
        database_url=database_url("sqlite", "gateway_erp"),
        auth_issuer=issuer,
        auth_jwks_url=f"{issuer}/.well-known/jwks.json",
        auth_jwks_refresh_seconds="0.5",
    )
    gateway = start_gateway(gw_db, port=port, upstreams=f"erp={erp.url}", key_reload_seconds="0.5")
    return Stack(gateway, erp, gw_db)
