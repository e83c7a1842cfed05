"""Schemathesis, every check, against both experience APIs served by real processes, with
tokens that carry a technician's person and site or a supplier's id. The contract does not
depend on the system APIs' database, so it runs on the SQLite platform only."""

from __future__ import annotations

import pytest

from tests.experience import seed
from tests.support.contract import run_schemathesis
from tests.support.http import client
from tests.support.platform import Platform


@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)
def test_technician_openapi_contract_holds(platform: Platform) -> None:
    with client(platform.services["cmms"], scopes=["cmms:read", "cmms:write"]) as cmms:
        seed.work_order(cmms, seed.asset(cmms, "S-CONTRACT"), "P-CONTRACT")  # so my-work has an item
    run_schemathesis(
        platform.services["technician"],
        "/technician/v1",
        scopes=["technician:app"],
        claims={"person_id": "P-CONTRACT", "site": "S-CONTRACT"},
    )


@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)
def test_supplier_openapi_contract_holds(platform: Platform) -> None:
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as qms:
        seed.supplier_case(qms, "SUP-CONTRACT", nc_ids=[seed.nonconformance(qms, supplier_id="SUP-CONTRACT")])
        seed.inspection(qms, "SUP-CONTRACT", "LOT-CONTRACT", passed=False)
    run_schemathesis(
        platform.services["supplier"],
        "/supplier/v1",
        scopes=["supplier:portal"],
        claims={"supplier_id": "SUP-CONTRACT"},
    )
