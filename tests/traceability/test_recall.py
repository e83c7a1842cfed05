"""Recall in one call: a supplier's lot number leads to every lot we received under it, every
order that used them and every lot made from them, three levels down, each with its stock,
movements, inspections and nonconformances; and back up from the finished lot."""

from __future__ import annotations

from typing import Any

from tests.support.wait import eventually
from tests.traceability.conftest import Plant, ok, tag


def trace(plant: Plant, **params: Any) -> Any:
    return ok(plant.quality.get("/quality/v1/traceability", params=params))


def test_a_supplier_lot_traced_down_three_levels_and_back_up(plant: Plant) -> None:
    supplier, steel = plant.supplier(), plant.item("RM-STEEL")
    shaft, axle, wheel = (plant.item(name, inspected=False) for name in ("SHAFT", "AXLE", "WHEEL"))
    supplier_lot = f"ACME-{tag()}/7"
    good = plant.receive(supplier, steel, 400, supplier_lot)["lot_id"]
    bad = plant.receive(supplier, steel, 200, supplier_lot)["lot_id"]
    plant.decide(good, passed=True, disposition="release")
    plant.decide(bad, passed=False, disposition="block")
    plant.flow_done(lot_id=good, type="usage_decision")
    plant.flow_done(lot_id=bad, type="usage_decision")

    # MES's consumption of the good steel is posted to ERP as an issue by the quality process.
    shafts, axles, wheels = f"LOT-SH-{tag()}", f"LOT-AX-{tag()}", f"LOT-WH-{tag()}"
    turning = plant.produce(shaft, (steel, good, 120), shafts, 60)
    plant.flow_done(lot_id=good, type="material_consumption")
    assembly = plant.produce(axle, (shaft, shafts, 60), axles, 30)
    final = plant.produce(wheel, (axle, axles, 30), wheels, 30)
    eventually(lambda: plant.flow_done(lot_id=wheels, type="production_inspection"))

    down = trace(plant, supplier_lot=supplier_lot, direction="where_used")
    assert (down["truncated"], down["warnings"]) == (False, [])
    lots = {lot["lot_id"]: lot for lot in down["lots"]}
    assert [(lot["lot_id"], lot["relation"], lot["depth"]) for lot in down["lots"]] == [
        *sorted([(good, "start", 0), (bad, "start", 0)]),
        (shafts, "where_used", 1),
        (axles, "where_used", 2),
        (wheels, "where_used", 3),
    ]
    assert [(o["order_id"], o["depth"]) for o in down["orders"]] == [(turning, 1), (assembly, 2), (final, 3)]
    # Each lot with what a recall needs: stock where it lies, what moved, what quality found.
    assert lots[good]["supplier_lot"] == supplier_lot
    assert lots[good]["stock"] == [{"location": "WH1", "status": "UNRESTRICTED", "quantity": 280.0}]
    assert lots[good]["quantities"] == {"received": 400.0, "issued": 120.0, "scrapped": 0.0, "returned": 0.0}
    assert [(i["result"], i["disposition"]) for i in lots[good]["inspections"]] == [("pass", "release")]
    assert lots[good]["nonconformances"] == []
    assert lots[bad]["stock"] == [{"location": "WH1", "status": "BLOCKED", "quantity": 200.0}]
    assert [(i["result"], i["disposition"]) for i in lots[bad]["inspections"]] == [("fail", "block")]
    assert [nc["severity"] for nc in lots[bad]["nonconformances"]] == ["major"]
    assert lots[wheels]["in_erp"] is True  # received from production by the quality flow
    assert lots[wheels]["stock"] == [{"location": "FG", "status": "QUALITY_INSPECTION", "quantity": 30.0}]

    up = trace(plant, lot_id=wheels, direction="where_from")
    assert [(lot["lot_id"], lot["relation"], lot["depth"]) for lot in up["lots"]] == [
        (wheels, "start", 0),
        (axles, "where_from", 1),
        (shafts, "where_from", 2),
        (good, "where_from", 3),
    ]
    both = trace(plant, lot_id=axles)
    assert {lot["lot_id"] for lot in both["lots"]} == {axles, wheels, shafts, good}


def test_a_recall_names_one_lot_or_one_supplier_lot(plant: Plant) -> None:
    for params in ({}, {"lot_id": "L-1", "supplier_lot": "S-1"}):
        answer = plant.quality.get("/quality/v1/traceability", params=params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith(":one-lot-required")
    unknown = plant.quality.get("/quality/v1/traceability", params={"lot": "L-1"})
    assert (unknown.status_code, unknown.json()["unknown_parameters"]) == (400, ["lot"])
    nothing = trace(plant, supplier_lot=f"NEVER-{tag()}")
    assert (nothing["lots"], nothing["orders"]) == ([], [])
