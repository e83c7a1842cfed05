"""The scorecard arithmetic, on records built in memory (pure logic, no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec

from contracts.models import erp, qms
from contracts.models.supplier import Period
from experience_apis.supplier_portal.scorecard import periods, scorecard

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


def receipt(lot_id: str, quantity: float, on: datetime = T0) -> erp.GoodsReceipt:
    return msgspec.convert(
        {
            "receipt_id": f"GR-{lot_id}-{on.date()}",
            "source": "purchase",
            "po_id": "PO-1",
            "line_no": 1,
            "production_order": None,
            "item_id": "I",
            "supplier_id": "S",
            "lot_id": lot_id,
            "quantity": quantity,
            "location": "WH1",
            "stock_status": "QUALITY_INSPECTION",
            "txn_id": "TXN-1",
            "version": 1,
            "created_at": on.isoformat(),
            "updated_at": on.isoformat(),
        },
        erp.GoodsReceipt,
    )


def inspection(lot_id: str, result: str, disposition: str | None, posted: float | None = None) -> Any:
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
            "stock_posted_quantity": posted,
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
    receipts = [receipt("L1", 9_000), receipt("L2", 1_000), receipt("L3", 500)]
    inspections = [
        inspection("L1", "pass", "release"),
        inspection("L2", "fail", "scrap"),
        inspection("L3", "fail", "use_as_is"),
    ]
    card = scorecard("S", cases, inspections, receipts, date(2026, 3, 20), [])
    assert card.received_quantity == 10_500
    assert card.rejected_quantity == 1_000
    assert card.reject_rate_ppm == round(1_000 / 10_500 * 1e6)
    assert card.open_cases == 3
    assert card.responded_cases == 2
    assert card.average_response_days == 3.0
    assert card.on_time_response_rate == round(1 / 3, 4)


def test_without_erp_lots_the_rate_is_unknown_not_zero() -> None:
    card = scorecard("S", [], [inspection("L1", "fail", None)], None, date(2026, 3, 20), [("erp", "down")])
    assert card.reject_rate_ppm is None
    assert card.lots_rejected == 1
    assert [w.source for w in card.warnings] == ["erp"]


def test_the_rejected_quantity_is_what_the_decision_moved_and_lots_count_when_received() -> None:
    """Two receipts into one lot; the decision blocked what was in inspection (posted 700 of 1000,
    300 having been released earlier); another month's lot passed."""
    receipts = [
        receipt("L1", 600, datetime(2026, 1, 10, tzinfo=UTC)),
        receipt("L1", 400, datetime(2026, 1, 20, tzinfo=UTC)),
        receipt("L2", 3_000, datetime(2026, 2, 5, tzinfo=UTC)),
    ]
    inspections = [inspection("L1", "fail", "block", posted=700), inspection("L2", "pass", "release")]
    card = scorecard("S", [], inspections, receipts, date(2026, 3, 1), [], period=Period.MONTH)
    assert (card.received_quantity, card.rejected_quantity, card.lots_received) == (4_000, 700, 2)
    assert card.reject_rate_ppm == 175_000
    assert [
        (p.period, p.received_quantity, p.rejected_quantity, p.reject_rate_ppm) for p in card.periods
    ] == [
        ("2026-01", 1_000, 700, 700_000),
        ("2026-02", 3_000, 0, 0),
        ("2026-03", 0, 0, None),
    ]
    window = scorecard(
        "S", [], inspections, receipts, date(2026, 3, 1), [], since=date(2026, 2, 1), until=date(2026, 2, 28)
    )
    assert (window.received_quantity, window.rejected_quantity, window.lots_rejected) == (3_000, 0, 0)


def test_periods_cover_the_window_whole() -> None:
    quarters = list(periods(Period.QUARTER, date(2025, 11, 30), date(2026, 4, 1)))
    assert [(n, s.isoformat(), e.isoformat()) for n, s, e in quarters] == [
        ("2025-Q4", "2025-10-01", "2025-12-31"),
        ("2026-Q1", "2026-01-01", "2026-03-31"),
        ("2026-Q2", "2026-04-01", "2026-06-30"),
    ]
    assert [n for n, _, _ in periods(Period.YEAR, date(2025, 6, 1), date(2026, 1, 1))] == ["2025", "2026"]
