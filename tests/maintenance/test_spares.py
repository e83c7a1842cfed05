"""Flow 4: a spare under its reorder point raises ONE purchase requisition, not one per consumption."""

from __future__ import annotations

from typing import Any

from tests.maintenance.conftest import Plant, new_tag, ok
from tests.support.wait import eventually


def requisitions(plant: Plant, item_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(
        plant.erp.get("/erp/v1/purchase-requisitions", params={"item_id": item_id})
    )["items"]
    return items


def issue(plant: Plant, spare: dict[str, str], quantity: float, order: str) -> None:
    ok(
        plant.erp.post(
            "/erp/v1/inventory-transactions",
            json={
                "type": "issue",
                "lot_id": spare["lot_id"],
                "quantity": quantity,
                "location": "WH-SPARES",
                "order_ref": order,
                "cost_centre": "CC-MAINT",
            },
        )
    )


def checks_done(plant: Plant, item_id: str, count: int) -> Any:
    return eventually(
        lambda: (lambda done: done if len(done) >= count else None)(
            [
                f
                for f in plant.flows(item_id=item_id, type="spares_replenishment")
                if f["status"] == "completed"
            ]
        )
    )


def test_consumptions_under_the_reorder_point_raise_one_requisition(plant: Plant) -> None:
    tag = new_tag()
    spare = plant.spare(tag, stock=8, reorder_point=5)
    issue(plant, spare, 2, f"WO-{tag}-1")  # 6 left: above the reorder point
    checks_done(plant, spare["item_id"], 1)
    assert requisitions(plant, spare["item_id"]) == []

    for n in (2, 3, 4):  # 4, 3, 2 left: each under the reorder point
        issue(plant, spare, 1, f"WO-{tag}-{n}")
    flows = checks_done(plant, spare["item_id"], 4)
    raised = requisitions(plant, spare["item_id"])
    assert len(raised) == 1
    assert (raised[0]["status"], raised[0]["requested_by"]) == ("open", "maintenance-process")
    raising = [
        f
        for f in flows
        if any(s["name"] == "raise_requisition" and (s["result"] or {}).get("raised") for s in f["steps"])
    ]
    assert len(raising) == 1
    on_hand = next(s["result"]["on_hand"] for s in raising[0]["steps"] if s["name"] == "check_stock")
    assert raised[0]["quantity"] == 2 * 5 - on_hand  # ordered up to twice the reorder point

    # Once the requisition is ordered, the next consumption under the point raises a new one.
    ok(plant.erp.post(f"/erp/v1/purchase-requisitions/{raised[0]['requisition_id']}/order", json={}))
    issue(plant, spare, 1, f"WO-{tag}-5")
    eventually(lambda: len(requisitions(plant, spare["item_id"])) == 2)


def test_concurrent_checks_raise_one_requisition(plant: Plant) -> None:
    tag = new_tag()
    spare = plant.spare(tag, stock=3, reorder_point=5)
    for _ in range(4):
        started = plant.maintenance.post(
            "/maintenance/v1/flows/spares-replenishment", json={"item_id": spare["item_id"]}
        )
        assert started.status_code == 201, started.text
    checks_done(plant, spare["item_id"], 4)
    assert len(requisitions(plant, spare["item_id"])) == 1


def test_erp_down_the_check_waits_then_raises_one_requisition(plant: Plant) -> None:
    tag = new_tag()
    spare = plant.spare(tag, stock=3, reorder_point=5)
    erp = plant.process("erp")
    erp.stop()
    try:
        for _ in range(2):
            started = plant.maintenance.post(
                "/maintenance/v1/flows/spares-replenishment", json={"item_id": spare["item_id"]}
            )
            assert started.status_code == 201, started.text
        eventually(
            lambda: all(
                f["status"] == "waiting"
                for f in plant.flows(item_id=spare["item_id"]) or [{"status": "none"}]
            )
        )
    finally:
        erp.start()
    checks_done(plant, spare["item_id"], 2)
    assert len(requisitions(plant, spare["item_id"])) == 1
