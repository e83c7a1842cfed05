"""Schemathesis, every check, against the process APIs served by real processes.

The system APIs they call are not running: a flow started by schemathesis retries in the
background, which is what a partner sees while ERP is down; the API itself must still hold its
contract."""

from __future__ import annotations

import pytest

from tests.conftest import Launch
from tests.support.contract import run_schemathesis


@pytest.mark.parametrize("name", ["quality", "maintenance"])
def test_process_openapi_contract_holds(launch: Launch, database_url, name: str) -> None:
    process = launch(name, database_url=database_url("sqlite", f"{name}_contract"))
    run_schemathesis(process, f"/{name}/v1", scopes=[f"{name}:read", f"{name}:write"], max_examples=30)
