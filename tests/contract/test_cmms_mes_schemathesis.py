"""Schemathesis, every check, against the CMMS and MES APIs served by real processes."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch


def test_cmms_openapi_contract_holds(launch: Launch, database_url: Callable[[str, str], str]) -> None:
    cmms = launch("cmms", database_url=database_url("sqlite", "cmms_contract"))
    run_schemathesis(cmms, "/cmms/v1", scopes=["cmms:read", "cmms:write"])


def test_mes_openapi_contract_holds(launch: Launch, database_url: Callable[[str, str], str]) -> None:
    mes = launch("mes", database_url=database_url("sqlite", "mes_contract"))
    run_schemathesis(mes, "/mes/v1", scopes=["mes:read", "mes:write"])
