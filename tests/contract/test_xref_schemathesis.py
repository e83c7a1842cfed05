"""Schemathesis, every check, against the cross-reference registry served by a real process.

Run on both stores: PostgreSQL refuses some text SQLite takes (a NUL byte), so only a run
against it shows that such input is a 4xx there too."""

from __future__ import annotations

from tests.support.contract import run_schemathesis
from tests.support.fixtures import Launch


def test_xref_openapi_contract_holds(launch: Launch, database_url, backend: str) -> None:
    xref = launch("xref", database_url=database_url(backend, f"xref_contract_{backend}"))
    run_schemathesis(xref, "/xref/v1", scopes=["xref:read", "xref:write"])
