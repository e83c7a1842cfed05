"""What a quality decision allows (contracts/holds.py) and what reconciliation calls out of step:
pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from contracts import holds
from contracts.models import erp, mes, qms
from process_apis.quality.reconciliation import LotView, compare
from process_apis.quality.rules import load_rules

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "process_apis" / "quality" / "rules.example.toml"


@pytest.mark.parametrize(
    ("decision", "ncs", "free_ok"),
    [
        ("block", [], False),
        ("rework", ["rework"], False),  # marked rework, then unblocked: out of order
        ("block", [None, "rework"], False),
        ("block", ["use_as_is"], True),  # a concession frees it
        ("release", [], True),
        ("scrap", [], True),
    ],
)
def test_free_stock_is_allowed_only_by_a_decision_or_disposition_that_frees(
    decision: str, ncs: list[str | None], free_ok: bool
) -> None:
    assert holds.free_stock_allowed(decision, ncs) is free_ok


@pytest.mark.parametrize(
    ("decision", "ncs", "open_nc", "blocked_ok"),
    [
        ("release", [], False, False),
        ("release", [], True, True),  # an open NC (a maintenance hold) is a hold of its own
        ("use_as_is", ["rework"], False, True),
        ("use_as_is", ["scrap"], False, False),
        ("block", [], False, True),
    ],
)
def test_blocked_stock_is_allowed_by_a_hold(
    decision: str, ncs: list[str], open_nc: bool, blocked_ok: bool
) -> None:
    assert holds.blocked_stock_allowed(decision, ncs, open_nc) is blocked_ok


def test_the_latest_disposition_is_what_quality_last_said() -> None:
    assert holds.effective_disposition("block", [None, "rework", "use_as_is"]) == "use_as_is"
    assert holds.effective_disposition("block", [None]) == "block"


def decision(disposition: str) -> qms.InspectionLot:
    ud = {
        "revision": 1,
        "code": "R1",
        "disposition": disposition,
        "lot_result": "fail",
        "decided_by": "qa",
        "decided_at": NOW,
        "note": None,
    }
    return msgspec.convert(
        {
            "inspection_lot_id": "IL-1",
            "origin": "production",
            "source_ref": None,
            "item_id": "FG-1",
            "lot_id": "LOT-1",
            "supplier_id": None,
            "sample_size": 1,
            "due_date": None,
            "status": "stock_posted",
            "result": "fail",
            "failed_characteristics": [],
            "characteristics": [],
            "usage_decision": ud,
            "decisions": [ud],
            "stock_txn_ids": [],
            "stock_posted_at": None,
            "closed_at": None,
            "cancel_reason": None,
            "allowed_actions": [],
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
        },
        qms.InspectionLot,
    )


def nonconformance(disposition: str | None, status: str, at: datetime) -> qms.Nonconformance:
    blank = dict.fromkeys(
        [
            *("description", "quantity_affected", "unit", "action_plan", "effectiveness_note", "item_id"),
            *("supplier_id", "equipment_id", "production_order_id", "inspection_lot_id", "reported_by"),
            *("closed_at", "cancel_reason"),
        ]
    )
    return msgspec.convert(
        blank
        | {
            "nc_id": "NC-1",
            "title": "x",
            "status": status,
            "severity": "minor",
            "defect_codes": [],
            "root_cause_codes": [],
            "disposition": disposition,
            "lot_id": "LOT-1",
            "reopen_count": 0,
            "allowed_actions": [],
            "version": 1,
            "created_at": at,
            "updated_at": at,
        },
        qms.Nonconformance,
    )


def balance(status: str, quantity: float) -> erp.Balance:
    return erp.Balance(location="WH1", status=erp.StockStatus(status), quantity=quantity)


def batch(status: str) -> mes.BatchCompletion:
    return mes.BatchCompletion(
        batch_id="BAT-1",
        order_id="PRD-1",
        item_id="FG-1",
        lot_id="LOT-1",
        quantity=10,
        uom="EA",
        location=None,
        site="PLANT-1",
        version=1,
        created_at=NOW,
        updated_at=NOW,
        quality_status=mes.BatchQualityStatus(status),
    )


def test_a_held_lot_with_free_stock_and_a_wrong_batch_status_is_two_disagreements() -> None:
    view = LotView(
        decision("block"), [], [balance("UNRESTRICTED", 30), balance("BLOCKED", 10)], [batch("released")]
    )
    found = {f.kind: f for f in compare(view)}
    assert set(found) == {"hold-not-in-erp", "mes-status"}
    assert "ERP has 30 not BLOCKED" in found["hold-not-in-erp"].summary
    assert "not quarantined" in found["mes-status"].summary


def test_a_lot_in_step_is_no_disagreement() -> None:
    assert compare(LotView(decision("block"), [], [balance("BLOCKED", 40)], [batch("quarantined")])) == []
    assert compare(LotView(decision("release"), [], [balance("UNRESTRICTED", 40)], [batch("released")])) == []


def test_a_later_disposition_sets_what_is_expected() -> None:
    nc = nonconformance("use_as_is", "open", NOW + timedelta(minutes=5))
    view = LotView(decision("block"), [nc], [balance("UNRESTRICTED", 40)], [batch("quarantined")])
    [found] = compare(view)  # the concession frees the stock; MES still shows the old decision
    assert (found.kind, found.disposition) == ("mes-status", "use_as_is")


def test_a_rework_disposition_does_not_explain_free_stock() -> None:
    nc = nonconformance("rework", "open", NOW)
    [found] = compare(LotView(decision("rework"), [nc], [balance("UNRESTRICTED", 5)], []))
    assert found.kind == "hold-not-in-erp"


def test_the_example_notification_rules_load() -> None:
    rules = load_rules(str(EXAMPLE))
    assert rules.notifications.recipients_of("PLANT-1", "procurement") == ["purchasing@plant1.example"]
    assert rules.notifications.recipients_of("PLANT-9", "procurement") == []
    assert [t.per for t in rules.notifications.defect_thresholds] == ["item", "supplier"]
    assert rules.shop_floor.issue_locations == {"PLANT-1": "WH1"}
