"""Parts before the job: a technician sees the parts planned for a work order, from the planner or
from the asset's spare-parts list, with ERP's free stock, before the work starts (nothing has been
recorded on the order yet)."""

from __future__ import annotations

import httpx

from tests.experience import seed
from tests.support.http import client
from tests.support.platform import Platform


def stocked(erp: httpx.Client, quantity: float) -> str:
    """A spare part with `quantity` in unrestricted stock."""
    lot = seed.received_lot(erp, f"SUP-{seed.tag()}", quantity)
    item_id: str = seed.ok(erp.get(f"/erp/v1/lots/{lot}"))["item_id"]
    return item_id


def test_planned_parts_with_stock_before_the_work_starts(platform: Platform) -> None:
    person, site = f"P-{seed.tag()}", f"S-{seed.tag()}"
    erp = client(platform.services["erp"], scopes=["erp:read", "erp:write"])
    cmms = client(platform.services["cmms"], scopes=["cmms:read", "cmms:write"])
    tablet = client(
        platform.services["technician"],
        scopes=["technician:app"],
        claims={"person_id": person, "site": site},
        client_id=f"tablet-{person}",
    )
    with erp, cmms, tablet:
        bearing, seal, gasket = stocked(erp, 10), stocked(erp, 1), stocked(erp, 50)
        asset_id = f"AS-{seed.tag()}"
        spare_parts = [{"item_id": bearing, "quantity": 2}, {"item_id": seal, "quantity": 4, "uom": "EA"}]
        seed.ok(
            cmms.post(
                "/cmms/v1/assets",
                json={
                    "asset_id": asset_id,
                    "tag": asset_id,
                    "description": "Press",
                    "site": site,
                    "spare_parts": spare_parts,
                },
            ),
            201,
        )
        from_asset = seed.work_order(cmms, asset_id, person)
        planned = seed.ok(
            cmms.post(
                "/cmms/v1/work-orders",
                json={
                    "asset_id": asset_id,
                    "description": "Replace gasket",
                    "assignee": person,
                    "planned_parts": [{"item_id": gasket, "quantity": 3}],
                },
            ),
            201,
        )
        seed.ok(cmms.post(f"/cmms/v1/work-orders/{planned['wo_id']}/release"))

        work = {w["wo_id"]: w for w in seed.ok(tablet.get("/technician/v1/my-work"))["items"]}
        asset_job, planner_job = work[from_asset["wo_id"]], work[planned["wo_id"]]
        assert (asset_job["status"], asset_job["parts_used"]) == ("released", [])
        assert asset_job["planned_parts_from"] == "asset"
        assert [
            (p["item_id"], p["quantity"], p["unrestricted"], p["available"])
            for p in asset_job["planned_parts"]
        ] == [(bearing, 2.0, 10.0, True), (seal, 4.0, 1.0, False)]
        assert planner_job["planned_parts_from"] == "planner"
        assert [(p["item_id"], p["available"]) for p in planner_job["planned_parts"]] == [(gasket, True)]

        # The planner changes the plan; the technician's view follows.
        replanned = cmms.patch(
            f"/cmms/v1/work-orders/{from_asset['wo_id']}",
            json={"planned_parts": [{"item_id": seal, "quantity": 1}]},
        )
        assert replanned.status_code == 200, replanned.text
        one = seed.ok(tablet.get(f"/technician/v1/work-orders/{from_asset['wo_id']}"))
        assert one["planned_parts_from"] == "planner"
        assert [(p["item_id"], p["quantity"], p["available"]) for p in one["planned_parts"]] == [
            (seal, 1.0, True)
        ]


def test_a_part_listed_twice_is_refused(platform: Platform) -> None:
    with client(platform.services["cmms"], scopes=["cmms:read", "cmms:write"]) as cmms:
        asset_id = seed.asset(cmms, f"S-{seed.tag()}")
        twice = [{"item_id": "SP-1", "quantity": 1}, {"item_id": "SP-1", "quantity": 2}]
        answer = cmms.patch(f"/cmms/v1/assets/{asset_id}", json={"spare_parts": twice})
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith(":duplicate-part")
