"""The actor in the audit: a technician's and a supplier's changes, made through their experience
APIs (which call the system APIs with their own platform clients), are recorded in the system
APIs' audit trails as that person or supplier, with their client, via the experience API. Nobody
outside the platform can claim to act for someone else."""

from __future__ import annotations

from typing import Any

import httpx

from tests.experience import seed
from tests.support.http import client
from tests.support.platform import Platform


def audit(http: httpx.Client, api: str, record_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = seed.ok(http.get(f"{api}/audit", params={"record_id": record_id}))["items"]
    return items


def test_a_technician_start_is_recorded_as_the_person_via_the_technician_api(platform: Platform) -> None:
    person, site = f"P-{seed.tag()}", f"S-{seed.tag()}"
    with client(platform.services["cmms"], scopes=["cmms:read", "cmms:write"]) as cmms:
        order = seed.work_order(cmms, seed.asset(cmms, site), person)
        with client(
            platform.services["technician"],
            scopes=["technician:app"],
            claims={"person_id": person, "site": site},
            client_id=f"tablet-{person}",
        ) as tablet:
            # What the tablet claims about whom it acts for is not believed: its token says who it is.
            forged = {"X-Acting-For": "client=someone-else&person=P-BOSS"}
            seed.ok(tablet.post(f"/technician/v1/work-orders/{order['wo_id']}/start", headers=forged))
        started = [e for e in audit(cmms, "/cmms/v1", order["wo_id"]) if "status" in e["changes"]]
    assert started[-1]["changes"]["status"]["after"] == "in_progress"
    assert started[-1]["actor"] == {
        "client_id": f"tablet-{person}",
        "person_id": person,
        "supplier_id": None,
        "via": "technician-experience",
    }


def test_a_supplier_answer_is_recorded_as_the_supplier_via_the_portal(platform: Platform) -> None:
    supplier = f"SUP-{seed.tag()}"
    with client(platform.services["qms"], scopes=["qms:read", "qms:write"]) as qms:
        case = seed.supplier_case(qms, supplier)
        with client(
            platform.services["supplier"],
            scopes=["supplier:portal"],
            claims={"supplier_id": supplier},
            client_id=f"portal-{supplier}",
        ) as portal:
            answer = {
                "containment": "Sorted stock",
                "root_cause": "Worn tool",
                "corrective_action": "Tool-life counter",
            }
            seed.ok(portal.post(f"/supplier/v1/cases/{case['case_id']}/response", json=answer))
        entries = audit(qms, "/qms/v2", case["case_id"])
    answered = [e for e in entries if e["changes"].get("status", {}).get("after") == "response_received"]
    assert [e["actor"] for e in answered] == [
        {
            "client_id": f"portal-{supplier}",
            "person_id": None,
            "supplier_id": supplier,
            "via": "supplier-portal",
        }
    ]


def test_a_caller_outside_the_platform_cannot_act_for_anyone(platform: Platform) -> None:
    """The header from a client that is not the platform's own is ignored: the audit names the
    caller, with no person and no `via`."""
    site = f"S-{seed.tag()}"
    with client(
        platform.services["cmms"], scopes=["cmms:read", "cmms:write"], client_id="mes-bridge"
    ) as cmms:
        asset_id = seed.asset(cmms, site)
        forged = {"X-Acting-For": "client=tablet-9&person=P-CEO"}
        seed.ok(cmms.post(f"/cmms/v1/assets/{asset_id}/down", json={"reason": "jam"}, headers=forged))
        downs = [e for e in audit(cmms, "/cmms/v1", asset_id) if "status" in e["changes"]]
    assert downs[-1]["actor"] == {
        "client_id": "mes-bridge",
        "person_id": None,
        "supplier_id": None,
        "via": None,
    }
