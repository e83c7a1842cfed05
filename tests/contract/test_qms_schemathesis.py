"""Schemathesis, every check, against both QMS majors served by one real process."""

from __future__ import annotations

import pytest

from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch


@pytest.mark.parametrize("api_path", ["/qms/v1", "/qms/v2"])
def test_qms_openapi_contract_holds(launch: Launch, database_url, api_path: str) -> None:
    qms = launch("qms", database_url=database_url("sqlite", f"qms_contract_{api_path[-2:]}"))
    run_schemathesis(qms, api_path, scopes=["qms:read", "qms:write"])
