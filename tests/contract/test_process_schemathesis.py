"""Schemathesis, every check, against the process APIs served by real processes.

The system APIs they call are not running (their URLs name a closed port): a flow started by
schemathesis stalls after its first attempt, which is what a partner sees while ERP is down; the
API itself must still hold its contract. The process gets a Redis database of its own and stops
afterwards: its consumer group must not take events meant for the end-to-end tests' processes."""

from __future__ import annotations

import pytest

from plantbridge.processes import RedisServer, free_port
from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch

UPSTREAMS = {"quality": ("erp", "qms", "mes", "xref"), "maintenance": ("erp", "qms", "cmms", "mes", "xref")}


@pytest.mark.parametrize("name", sorted(UPSTREAMS))
def test_process_openapi_contract_holds(
    launch: Launch, database_url, redis_server: RedisServer, name: str
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    process = launch(
        name,
        database_url=database_url("sqlite", f"{name}_contract"),
        redis_url=redis_server.url.rsplit("/", 1)[0] + "/1",
        flow_max_attempts="1",
        auth_token_url=f"{nowhere}/oauth2/token",
        **{f"{upstream}_url": nowhere for upstream in UPSTREAMS[name]},
    )
    try:
        run_schemathesis(process, f"/{name}/v1", scopes=[f"{name}:read", f"{name}:write"])
    finally:
        process.stop()
