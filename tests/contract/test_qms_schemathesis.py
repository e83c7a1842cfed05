"""Schemathesis, every check, against the QMS API served by a real process."""

from __future__ import annotations

from tests.conftest import Launch
from tests.support.contract import run_schemathesis


def test_qms_openapi_contract_holds(launch: Launch, database_url) -> None:
    qms = launch("qms", database_url=database_url("sqlite", "qms_contract"))
    run_schemathesis(qms, "/qms/v1", scopes=["qms:read", "qms:write"], max_examples=30)
