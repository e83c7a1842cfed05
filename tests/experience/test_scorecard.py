"""The scorecard arithmetic, on records built in memory (pure logic, no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec

from contracts.models import erp, qms
from experience_apis.supplier_portal.service import compute_scorecard

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def case(
    status: str, *, due: date | None, responded: datetime | None, issued: datetime = T0
) -> qms.SupplierCase:
    responses = (
        [
            {
                "number": 1,
                "containment": "c",
                "root_cause": "r",
                "corrective_action": "a",
                "responded_by": None,
                "responded_at": responded.isoformat(),
            }
        ]
        if responded
        else []
    )
    return msgspec.convert(
        {
            "case_id": f"C-{status}-{due}-{responded}",
            "supplier_id": "S",
            "title": "t",
            "status": status,
            "description": None,
            "nc_ids": [],
            "lot_ids": [],
            "po_id": None,
            "due_date": due and due.isoformat(),
            "opened_by": None,
            "responses": responses,
            "issued_at": issued.isoformat(),
            "closed_at": None,
            "cancel_reason": None,
            "allowed_actions": [],
            "version": 1,
            "created_at": T0.isoformat(),
            "updated_at": T0.isoformat(),
        },
        qms.SupplierCase,
    )


def lot(lot_id: str, quantity: float) -> erp.Lot:
    return msgspec.convert(
        {
            "lot_id": lot_id,
            "item_id": "I",
            "supplier_id": "S",
            "supplier_lot": None,
            "origin": "purchase",
            "quantity": quantity,
            "balances": [],
            "version": 1,
            "created_at": T0.isoformat(),
            "updated_at": T0.isoformat(),
        },
        erp.Lot,
    )


def inspection(lot_id: str, result: str, disposition: str | None) -> Any:
    decision = (
        {
            "revision": 1,
            "code": "X",
            "disposition": disposition,
            "lot_result": result,
            "decided_by": "qa",
            "decided_at": T0.isoformat(),
            "note": None,
        }
        if disposition
        else None
    )
    return msgspec.convert(
        {
            "inspection_lot_id": f"IL-{lot_id}",
            "origin": "goods_receipt",
            "source_ref": None,
            "item_id": "I",
            "lot_id": lot_id,
            "supplier_id": "S",
            "sample_size": 1,
            "due_date": None,
            "status": "decided",
            "result": result,
            "failed_characteristics": [],
            "characteristics": [],
            "usage_decision": decision,
            "decisions": [],
            "stock_txn_ids": [],
            "stock_posted_at": None,
            "closed_at": None,
            "cancel_reason": None,
            "allowed_actions": [],
            "version": 1,
            "created_at": T0.isoformat(),
            "updated_at": T0.isoformat(),
        },
        qms.InspectionLot,
    )


def test_reject_rate_response_days_and_on_time_rate() -> None:
    cases = [
        case(
            "response_received", due=date(2026, 3, 5), responded=datetime(2026, 3, 3, tzinfo=UTC)
        ),  # 2 days, on time
        case("accepted", due=date(2026, 3, 2), responded=datetime(2026, 3, 5, tzinfo=UTC)),  # 4 days, late
        case("issued", due=date(2026, 3, 10), responded=None),  # overdue on 3/20, unanswered
        case("issued", due=date(2026, 4, 1), responded=None),  # not due yet: not counted
    ]
    lots = [lot("L1", 9_000), lot("L2", 1_000), lot("L3", 500)]
    inspections = [
        inspection("L1", "pass", "release"),
        inspection("L2", "fail", "scrap"),
        inspection("L3", "fail", "use_as_is"),
    ]
    card = compute_scorecard("S", cases, inspections, lots, date(2026, 3, 20), [])
    assert card.received_quantity == 10_500
    assert card.rejected_quantity == 1_000
    assert card.reject_rate_ppm == round(1_000 / 10_500 * 1e6)
    assert card.open_cases == 3
    assert card.responded_cases == 2
    assert card.average_response_days == 3.0
    assert card.on_time_response_rate == round(1 / 3, 4)


def test_without_erp_lots_the_rate_is_unknown_not_zero() -> None:
    card = compute_scorecard(
        "S", [], [inspection("L1", "fail", None)], None, date(2026, 3, 20), [("erp", "down")]
    )
    assert card.reject_rate_ppm is None
    assert card.lots_rejected == 1
    assert [w.source for w in card.warnings] == ["erp"]
