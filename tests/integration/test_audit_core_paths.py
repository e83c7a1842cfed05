"""The flows' hot paths write on SQLAlchemy Core (contracts/kit/core_records.py), outside the ORM
flush the audit recorder listens to: their entries must say exactly what the ORM's said, and a
refused or concurrent change must write neither the change nor an entry."""

from __future__ import annotations

from typing import Any

from tests.integration.test_audit import RELEASED, Systems, audit, changes, make_item, systems
from tests.support.http import ok, unique

__all__ = ["systems"]  # the module-scoped fixture, served on SQLite and PostgreSQL


def _failed_lot(qms: Any) -> str:
    body = {
        "origin": "goods_receipt",
        "source_ref": unique("GR"),
        "item_id": "RM-STEEL-BAR",
        "lot_id": unique("LOT"),
        "sample_size": 5,
        "characteristics": [{"code": "VIS", "kind": "attribute"}],
    }
    lot_id: str = ok(qms.post("/qms/v1/inspection-lots", json=body), 201)["inspection_lot_id"]
    ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/start", json={"by": "inspector"}))
    results = {"results": [{"characteristic": "VIS", "conforming": False}], "recorded_by": "inspector"}
    ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/results", json=results))
    return lot_id


def test_a_decision_and_its_stock_posting_are_audited_as_before(systems: Systems) -> None:
    qms = systems.qms.http
    lot_id = _failed_lot(qms)
    decision = {"code": "UD-BLOCK", "disposition": "block", "decided_by": "qe", "note": "scratches"}
    decided = ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/usage-decision", json=decision))
    posted = {"txn_ids": ["TXN-1", "TXN-1", "TXN-2"], "posted_by": "quality", "quantity": 12.5}
    stocked = ok(qms.post(f"/qms/v1/inspection-lots/{lot_id}/stock-posted", json=posted))
    assert stocked["stock_txn_ids"] == ["TXN-1", "TXN-2"]
    assert stocked["usage_decision"]["disposition"] == "block"  # children come back with the record

    history = audit(qms, "/qms/v1", record_type="inspection_lots", record_id=lot_id)
    assert [e["action"] for e in history] == ["created", "updated", "updated", "updated", "updated"]
    on_decision, on_posting = history[3], history[4]
    assert on_decision["version"] == 4
    assert on_posting["version"] == 5
    assert changes(on_decision) == {
        "status": ("results_recorded", "decided"),
        "decisions[1].code": (None, "UD-BLOCK"),
        "decisions[1].disposition": (None, "block"),
        "decisions[1].lot_result": (None, "fail"),
        "decisions[1].decided_by": (None, "qe"),
        "decisions[1].decided_at": (None, decided["usage_decision"]["decided_at"].replace("Z", "+00:00")),
        "decisions[1].note": (None, "scratches"),
    }
    assert changes(on_posting) == {
        "status": ("decided", "stock_posted"),
        "stock_txn_ids": ([], ["TXN-1", "TXN-2"]),
        "stock_posted_at": (None, stocked["stock_posted_at"].replace("Z", "+00:00")),
        "stock_posted_quantity": (None, 12.5),
    }
    assert {e["actor"]["client_id"] for e in history} == {"audit-tester"}


def test_a_stale_or_refused_change_writes_no_entry(systems: Systems) -> None:
    qms = systems.qms.http
    lot_id = _failed_lot(qms)
    decision = {"code": "UD-BLOCK", "disposition": "block", "decided_by": "qe"}
    path = f"/qms/v1/inspection-lots/{lot_id}/usage-decision"
    stale = qms.post(path, json=decision, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    refused = qms.post(f"/qms/v1/inspection-lots/{lot_id}/close", json={"by": "qe"})
    assert refused.status_code == 409, refused.text
    missing = qms.post(f"/qms/v1/inspection-lots/{unique('IL')}/usage-decision", json=decision)
    assert missing.status_code == 404, missing.text

    assert len(audit(qms, "/qms/v1", record_type="inspection_lots", record_id=lot_id)) == 3
    lot = ok(qms.get(f"/qms/v1/inspection-lots/{lot_id}"))
    assert lot["status"] == "results_recorded"
    assert lot["decisions"] == []


def test_a_stock_movement_is_audited_as_before(systems: Systems) -> None:
    erp = systems.erp.http
    item = make_item(erp)
    receipt = {
        "item_id": item,
        "quantity": 40,
        "location": "WH1",
        "lot_id": unique("LOT"),
        "production_order": "MO-1",
    }
    lot_id = ok(erp.post("/erp/v1/production-receipts", json=receipt), 201)["lot_id"]
    assert [e["version"] for e in audit(erp, "/erp/v1", record_type="lots", record_id=lot_id)] == [2]
    move = {"type": "release", "lot_id": lot_id, "quantity": 15, "location": "WH1", "quality_ref": RELEASED}
    stale = erp.post("/erp/v1/inventory-transactions", json=move, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    txn = ok(erp.post("/erp/v1/inventory-transactions", json=move, headers={"If-Match": '"2"'}), 201)

    lot_history = audit(erp, "/erp/v1", record_type="lots", record_id=lot_id)
    assert [(e["action"], e["version"]) for e in lot_history] == [("created", 2), ("updated", 3)]
    assert changes(lot_history[1]) == {
        "balances[WH1/QUALITY_INSPECTION].quantity": (40.0, 25.0),
        "balances[WH1/UNRESTRICTED].quantity": (None, 15.0),
    }
    (posted,) = audit(erp, "/erp/v1", record_type="inventory_transactions", record_id=txn["txn_id"])
    assert (posted["action"], posted["version"]) == ("created", 1)
    assert changes(posted) == {
        "type": (None, "release"),
        "lot_id": (None, lot_id),
        "item_id": (None, item),
        "quantity": (None, 15.0),
        "location": (None, "WH1"),
        "from_status": (None, "QUALITY_INSPECTION"),
        "to_status": (None, "UNRESTRICTED"),
        "quality_ref": (None, RELEASED),
    }
    assert ok(erp.get(f"/erp/v1/lots/{lot_id}"))["version"] == 3


def test_a_payment_hold_and_its_release_are_audited_as_before(systems: Systems) -> None:
    erp = systems.erp.http
    item = make_item(erp)
    receipt = {"item_id": item, "quantity": 5, "location": "WH1", "production_order": "MO-2"}
    lot_id = ok(erp.post("/erp/v1/production-receipts", json=receipt), 201)["lot_id"]
    blocked = {"kind": "usage_decision", "record_id": "IL-2", "disposition": "block"}
    hold = {"reason": "IL-2: block", "quality_ref": blocked}
    ok(erp.post(f"/erp/v1/lots/{lot_id}/payment-hold", json=hold))
    ok(erp.post(f"/erp/v1/lots/{lot_id}/payment-hold", json=hold))  # held already: no change
    ok(erp.post(f"/erp/v1/lots/{lot_id}/payment-hold/release", json={"quality_ref": RELEASED}))

    held, released = audit(erp, "/erp/v1", record_type="payment_holds", record_id=lot_id)
    assert (held["action"], held["version"], released["action"], released["version"]) == (
        "created",
        1,
        "updated",
        2,
    )
    assert changes(held) == {
        "active": (None, True),
        "reason": (None, "IL-2: block"),
        "quality_ref": (None, blocked),
    }
    assert changes(released) == {"active": (True, False), "released_by": (None, RELEASED)}


def test_a_nonconformance_and_its_supplier_case_are_created_and_audited_as_before(systems: Systems) -> None:
    qms = systems.qms.http
    code = unique("D-BURR")
    ok(qms.post("/qms/v1/defect-codes", json={"code": code, "description": "Burr"}), 201)
    lot_id = _failed_lot(qms)
    supplier = unique("SUP")
    body = {
        "title": "Burrs on the lot",
        "severity": "major",
        "description": "found at receiving",
        "defect_codes": [code, code],
        "root_cause_codes": ["RC-TOOL-WEAR"],
        "quantity_affected": 12,
        "unit": "EA",
        "disposition": "rework",
        "item_id": "RM-STEEL-BAR",
        "lot_id": unique("LOT"),
        "supplier_id": supplier,
        "inspection_lot_id": lot_id,
        "reported_by": "quality-process",
    }
    nc = ok(qms.post("/qms/v1/nonconformances", json=body), 201)
    assert ok(qms.get(f"/qms/v1/nonconformances/{nc['nc_id']}")) == nc
    assert (nc["version"], nc["status"], nc["defect_codes"], nc["reopen_count"]) == (1, "open", [code], 0)
    (opened,) = audit(qms, "/qms/v1", record_type="nonconformances", record_id=nc["nc_id"])
    assert (opened["action"], opened["version"]) == ("created", 1)
    assert changes(opened) == {
        "title": (None, "Burrs on the lot"),
        "status": (None, "open"),
        "severity": (None, "major"),
        "description": (None, "found at receiving"),
        "defect_codes": (None, [code]),
        "root_cause_codes": (None, ["RC-TOOL-WEAR"]),
        "quantity_affected": (None, 12.0),
        "unit": (None, "EA"),
        "disposition": (None, "rework"),
        "item_id": (None, "RM-STEEL-BAR"),
        "lot_id": (None, body["lot_id"]),
        "supplier_id": (None, supplier),
        "inspection_lot_id": (None, lot_id),
        "reported_by": (None, "quality-process"),
        "reopen_count": (None, 0),
    }

    scar = {
        "supplier_id": supplier,
        "title": "Rejected lot",
        "nc_ids": [nc["nc_id"], nc["nc_id"]],
        "lot_ids": [body["lot_id"]],
        "po_id": "PO-1",
        "due_date": "2027-01-31",
        "opened_by": "quality-process",
    }
    case = ok(qms.post("/qms/v1/supplier-cases", json=scar), 201)
    assert ok(qms.get(f"/qms/v1/supplier-cases/{case['case_id']}")) == case
    assert (case["version"], case["status"], case["nc_ids"]) == (1, "open", [nc["nc_id"]])
    (case_opened,) = audit(qms, "/qms/v1", record_type="supplier_cases", record_id=case["case_id"])
    assert (case_opened["action"], case_opened["version"]) == ("created", 1)
    assert changes(case_opened) == {
        "supplier_id": (None, supplier),
        "title": (None, "Rejected lot"),
        "status": (None, "open"),
        "nc_ids": (None, [nc["nc_id"]]),
        "lot_ids": (None, [body["lot_id"]]),
        "po_id": (None, "PO-1"),
        "due_date": (None, "2027-01-31"),
        "opened_by": (None, "quality-process"),
        "responses": (None, []),
    }


def test_a_refused_create_writes_neither_the_record_nor_an_entry(systems: Systems) -> None:
    qms = systems.qms.http
    corr = unique("corr-refused")
    headers = {"X-Correlation-ID": corr}
    bad_lot = {"title": "x", "severity": "minor", "inspection_lot_id": unique("IL")}
    refused = qms.post("/qms/v1/nonconformances", json=bad_lot, headers=headers)
    assert refused.status_code == 422, refused.text
    theirs = {"title": "y", "severity": "minor", "supplier_id": "S-A"}
    other = ok(qms.post("/qms/v1/nonconformances", json=theirs), 201)
    foreign = {"supplier_id": "S-B", "title": "z", "nc_ids": [other["nc_id"]]}
    refused = qms.post("/qms/v1/supplier-cases", json=foreign, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["nc_ids"] == [other["nc_id"]]
    missing = {"supplier_id": "S-A", "title": "z", "nc_ids": [unique("NC")]}
    assert qms.post("/qms/v1/supplier-cases", json=missing, headers=headers).status_code == 422
    assert audit(qms, "/qms/v1", correlation_id=corr) == []
    assert ok(qms.get("/qms/v1/supplier-cases", params={"supplier_id": "S-B"}))["items"] == []


def test_moves_and_changes_of_a_nonconformance_and_a_supplier_case_are_audited_as_before(
    systems: Systems,
) -> None:
    qms = systems.qms.http
    supplier = unique("SUP")
    nc = ok(qms.post("/qms/v1/nonconformances", json={"title": "Dents", "severity": "minor"}), 201)
    nc_path = f"/qms/v1/nonconformances/{nc['nc_id']}"
    assert qms.post(f"{nc_path}/start-analysis", json={}, headers={"If-Match": '"2"'}).status_code == 412
    ok(qms.post(f"{nc_path}/start-analysis", json={"by": "qe"}, headers={"If-Match": '"1"'}))
    started = ok(qms.post(f"{nc_path}/plan-action", json={"action_plan": "sort the lot"}))
    changed = ok(qms.patch(nc_path, json={"severity": "major", "supplier_id": supplier, "unit": "EA"}))
    ok(qms.patch(nc_path, json={"severity": "major"}))  # no change: no new version, no entry
    assert (started["version"], changed["version"], ok(qms.get(nc_path))["version"]) == (3, 4, 4)
    refused = qms.post(f"{nc_path}/close", json={})
    assert refused.status_code == 409, refused.text
    assert qms.post(f"/qms/v1/nonconformances/{unique('NC')}/start-analysis", json={}).status_code == 404
    history = audit(qms, "/qms/v1", record_type="nonconformances", record_id=nc["nc_id"])
    assert [(e["action"], e["version"]) for e in history] == [
        ("created", 1),
        ("updated", 2),
        ("updated", 3),
        ("updated", 4),
    ]
    assert changes(history[1]) == {"status": ("open", "under_analysis")}
    assert changes(history[2]) == {
        "status": ("under_analysis", "action_planned"),
        "action_plan": (None, "sort the lot"),
    }
    assert changes(history[3]) == {
        "severity": ("minor", "major"),
        "supplier_id": (None, supplier),
        "unit": (None, "EA"),
    }

    case = ok(qms.post("/qms/v1/supplier-cases", json={"supplier_id": supplier, "title": "Dents"}), 201)
    case_path = f"/qms/v1/supplier-cases/{case['case_id']}"
    linked = ok(qms.patch(case_path, json={"nc_ids": [nc["nc_id"]], "po_id": "PO-9"}))
    # One request, one version: the ORM's autoflush before the NC lookup made this PATCH two.
    issued = ok(qms.post(f"{case_path}/issue", json={"by": "sqe"}, headers={"If-Match": '"2"'}))
    assert (linked["version"], issued["version"], issued["status"]) == (2, 3, "issued")
    assert ok(qms.get(case_path)) == issued
    history = audit(qms, "/qms/v1", record_type="supplier_cases", record_id=case["case_id"])
    assert [(e["action"], e["version"]) for e in history] == [("created", 1), ("updated", 2), ("updated", 3)]
    assert changes(history[1]) == {"nc_ids": ([], [nc["nc_id"]]), "po_id": (None, "PO-9")}
    assert changes(history[2]) == {
        "status": ("open", "issued"),
        "issued_at": (None, issued["issued_at"].replace("Z", "+00:00")),
    }
