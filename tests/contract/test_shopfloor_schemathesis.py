"""Schemathesis, every check, against the shop-floor connector's API served by a real process
(no machines configured: its lists are empty or hold what other tests left; the contract holds)."""

from __future__ import annotations

from plantbridge.processes import free_port
from tests.support.contract import run_schemathesis
from tests.support.fixtures import DatabaseUrl, Launch


def test_shopfloor_openapi_contract_holds(launch: Launch, database_url: DatabaseUrl) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    process = launch(
        "shopfloor",
        database_url=database_url("sqlite", "shopfloor_contract"),
        mes_url=nowhere,
        xref_url=nowhere,
        auth_token_url=f"{nowhere}/oauth2/token",
    )
    try:
        run_schemathesis(process, "/shopfloor/v1", scopes=["shopfloor:read"])
    finally:
        process.stop()
