"""Schemathesis, every check, against the operations API served by a real process.

The APIs it watches are not running (their URLs name a closed port): every monitor must still
answer within its contract, with warnings, as it would while those services are down. The
dead-letter routes work on the session's real Redis."""

from __future__ import annotations

from plantbridge.processes import free_port
from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch

WATCHED = ("erp", "qms", "cmms", "mes", "quality", "maintenance")


def test_operations_openapi_contract_holds(launch: Launch, database_url) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    operations = launch(
        "operations",
        database_url=database_url("sqlite", "operations_contract"),
        auth_token_url=f"{nowhere}/oauth2/token",
        refresh_seconds="0",
        **{f"{name}_url": nowhere for name in WATCHED},
    )
    run_schemathesis(operations, "/operations/v1", scopes=["operations:read", "events:read", "events:replay"])
