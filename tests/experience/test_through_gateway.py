"""End to end through the gateway: devices and portals get real tokens from the gateway's token
endpoint (client credentials, with the person/site or supplier registered for the client)."""

from __future__ import annotations

import json
import secrets

import httpx

from tests.experience import seed
from tests.support.fixtures import PlantbridgeCli
from tests.support.http import client
from tests.support.platform import Platform


def register(cli: PlantbridgeCli, platform: Platform, client_id: str, scopes: str, *claims: str) -> str:
    secret = secrets.token_urlsafe(24)
    result = cli(
        *("gateway", "register-client", client_id, "--scopes", scopes),
        f"--secret={secret}",  # a random secret may start with "-"
        *claims,
        env={"GATEWAY_DATABASE_URL": platform.gateway_db},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["client_id"] == client_id
    return secret


def token(gateway: str, client_id: str, secret: str, scope: str) -> dict[str, str]:
    answer = httpx.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_technician_and_supplier_through_the_gateway(
    platform: Platform, plantbridge_cli: PlantbridgeCli
) -> None:
    # A second gateway replica (same database and keys) that also routes to the experience APIs.
    gateway = platform.start_edge()
    tag = seed.tag()
    person, site, supplier = f"P-{tag}", f"S-{tag}", f"SUP-{tag}"
    with client(platform.services["cmms"], scopes=["cmms:read", "cmms:write"]) as cmms:
        mine = seed.work_order(cmms, seed.asset(cmms, site), person)["wo_id"]
        seed.work_order(cmms, seed.asset(cmms, f"OTHER-{tag}"), person)
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as qms:
        case = seed.supplier_case(qms, supplier)["case_id"]
        other = seed.supplier_case(qms, f"SUP-OTHER-{tag}")["case_id"]

    device = f"tablet-{tag}"
    secret = register(
        plantbridge_cli, platform, device, "technician:app", "--person-id", person, "--site", site
    )
    with httpx.Client(
        base_url=gateway.url, headers=token(gateway.url, device, secret, "technician:app")
    ) as me:
        work = me.get("/technician/v1/my-work")
        assert work.status_code == 200, work.text
        assert [i["wo_id"] for i in work.json()["items"]] == [mine]
        completion = {
            "cause_code": "BRG-WEAR",
            "correction_code": "REPLACE",
            "parts": [{"item_id": "SP-1", "quantity": 1, "warehouse": "WH1"}],
        }
        seed.ok(me.post(f"/technician/v1/work-orders/{mine}/start"))
        key = {"Idempotency-Key": f"done-{mine}"}
        first = me.post(f"/technician/v1/work-orders/{mine}/complete", json=completion, headers=key)
        again = me.post(f"/technician/v1/work-orders/{mine}/complete", json=completion, headers=key)
        assert first.status_code == again.status_code == 200, first.text
        assert len(again.json()["parts_used"]) == 1
        assert me.get("/supplier/v1/cases").status_code == 403  # a device is no supplier

    portal = f"portal-{tag}"
    secret = register(plantbridge_cli, platform, portal, "supplier:portal", "--supplier-id", supplier)
    with httpx.Client(
        base_url=gateway.url, headers=token(gateway.url, portal, secret, "supplier:portal")
    ) as me:
        assert [c["case_id"] for c in seed.ok(me.get("/supplier/v1/cases"))["items"]] == [case]
        assert me.get(f"/supplier/v1/cases/{other}").status_code == 404
        assert me.get("/technician/v1/my-work").status_code == 403
