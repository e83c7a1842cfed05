"""Schemathesis, every check, against the ERP API served by a real process."""

from __future__ import annotations

from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch


def test_erp_openapi_contract_holds(launch: Launch, database_url) -> None:
    erp = launch("erp", database_url=database_url("sqlite", "erp_contract"))
    run_schemathesis(erp, "/erp/v1", scopes=["erp:read", "erp:write"])
