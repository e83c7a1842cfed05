"""List pages read their records and the records' child rows on SQLAlchemy Core
(contracts/kit/core_records.py `find_all`): one SELECT per child collection for the whole page.
Each listed record must be the record as read alone, children in order, none lent to a neighbour."""

from __future__ import annotations

from typing import Any

from tests.integration.test_audit import Systems, make_item, systems
from tests.support.http import ok, unique

__all__ = ["systems"]  # the module-scoped fixture, served on SQLite and PostgreSQL


def _every(http: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = {**params, "limit": 2}  # pages of two: the cursor and the page edges are crossed
    while True:
        page = ok(http.get(path, params=query))
        found.extend(page["items"])
        if not page["next_cursor"]:
            return found
        query["cursor"] = page["next_cursor"]


def test_listed_purchase_orders_are_as_read_alone_with_their_own_lines(systems: Systems) -> None:
    erp = systems.erp.http
    supplier = unique("SUP")
    ok(erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "Pages"}), 201)
    items = [make_item(erp) for _ in range(3)]
    made = []
    for count in (3, 1, 2, 1, 4):  # differing line counts, so a line in the wrong order shows
        lines = [{"item_id": items[n % 3], "quantity": 10 * count + n} for n in range(count)]
        po = ok(erp.post("/erp/v1/purchase-orders", json={"supplier_id": supplier, "lines": lines}), 201)
        made.append(po["po_id"])
    listed = _every(erp, "/erp/v1/purchase-orders", supplier_id=supplier)
    assert sorted(po["po_id"] for po in listed) == sorted(made)
    for po in listed:
        assert po == ok(erp.get(f"/erp/v1/purchase-orders/{po['po_id']}")), po["po_id"]
    assert [len(po["lines"]) for po in sorted(listed, key=lambda p: made.index(p["po_id"]))] == [
        3,
        1,
        2,
        1,
        4,
    ]
    assert _every(erp, "/erp/v1/purchase-orders", supplier_id=unique("SUP")) == []


def test_listed_inspection_lots_carry_their_own_characteristics_and_results(systems: Systems) -> None:
    qms = systems.qms.http
    item = unique("RM")
    made = []
    for codes, inspected in ((["VIS", "LEN", "DIA"], True), (["VIS"], True), (["LEN", "VIS"], False)):
        body = {
            "origin": "goods_receipt",
            "source_ref": unique("GR"),
            "item_id": item,
            "lot_id": unique("LOT"),
            "sample_size": 5,
            "characteristics": [{"code": c, "kind": "attribute"} for c in codes],
        }
        lot_id = ok(qms.post("/qms/v1/inspection-lots", json=body), 201)["inspection_lot_id"]
        if inspected:
            ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/start", json={"by": "inspector"}))
            results = [{"characteristic": c, "conforming": n % 2 == 0} for n, c in enumerate(codes)]
            ok(
                qms.post(
                    f"/qms/v1/inspection-lots/{lot_id}/results",
                    json={"results": results, "recorded_by": "qi"},
                )
            )
        made.append(lot_id)
    listed = _every(qms, "/qms/v1/inspection-lots", item_id=item)
    assert sorted(lot["inspection_lot_id"] for lot in listed) == sorted(made)
    for lot in listed:
        assert lot == ok(qms.get(f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}"))
    by_id = {lot["inspection_lot_id"]: lot for lot in listed}
    assert [[c["code"] for c in by_id[i]["characteristics"]] for i in made] == [
        ["VIS", "LEN", "DIA"],
        ["VIS"],
        ["LEN", "VIS"],
    ]
    recorded = [[c["result"] is not None for c in by_id[i]["characteristics"]] for i in made]
    assert recorded == [[True, True, True], [True], [False, False]]
    assert [lot["failed_characteristics"] for lot in (by_id[i] for i in made)] == [["LEN"], [], []]
