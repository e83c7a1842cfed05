"""The supplier scorecard from history: a rejected lot returned to the supplier and good stock
used in production later change none of the figures the supplier and the buyer saw."""

from __future__ import annotations

from tests.traceability.conftest import Plant, ok

FIGURES = (
    "lots_received",
    "received_quantity",
    "lots_rejected",
    "rejected_quantity",
    "reject_rate_ppm",
)


def test_returns_and_consumption_do_not_change_the_scorecard(plant: Plant) -> None:
    supplier, steel = plant.supplier(), plant.item("RM-STEEL")
    rejected = plant.receive(supplier, steel, 400)["lot_id"]
    accepted = plant.receive(supplier, steel, 600)["lot_id"]
    plant.decide(rejected, passed=False, disposition="block")
    plant.decide(accepted, passed=True, disposition="release")
    plant.flow_done(lot_id=rejected, type="usage_decision")
    plant.flow_done(lot_id=accepted, type="usage_decision")
    assert plant.balances(rejected) == {"WH1:BLOCKED": 400.0}
    assert plant.balances(accepted) == {"WH1:UNRESTRICTED": 600.0}

    with plant.portal(supplier) as portal:
        before = ok(portal.get("/supplier/v1/scorecard", params={"period": "month"}))
        assert [before[f] for f in FIGURES] == [2, 1000.0, 1, 400.0, 400_000]

        # The rejected steel goes back to the supplier; production uses and scraps good steel.
        returned = {"kind": "nonconformance", "record_id": "NC-RETURN", "disposition": "return"}
        plant.move("return_to_vendor", rejected, 400, from_status="BLOCKED", quality_ref=returned)
        plant.move("issue", accepted, 250, order_ref="MO-4711")
        plant.move("scrap", accepted, 50, from_status="UNRESTRICTED")
        assert plant.balances(rejected) == {}
        assert plant.balances(accepted) == {"WH1:UNRESTRICTED": 300.0}

        after = ok(portal.get("/supplier/v1/scorecard", params={"period": "month"}))
    assert [after[f] for f in FIGURES] == [before[f] for f in FIGURES]
    assert after["periods"] == before["periods"]
    assert [(p["received_quantity"], p["rejected_quantity"]) for p in after["periods"]][-1] == (1000.0, 400.0)
