"""Stock movement rules, as pure functions over balances."""

from __future__ import annotations

import pytest

from contracts.kit.inputs import kept_quantity
from contracts.kit.problems import Unprocessable
from contracts.models.erp import MovementType, StockStatus
from system_apis.erp import domain

QI, UNR, BLK = StockStatus.QUALITY_INSPECTION, StockStatus.UNRESTRICTED, StockStatus.BLOCKED
T = MovementType


def after(balances: dict[domain.Key, float], movement: domain.Movement) -> dict[domain.Key, float]:
    return {k: v for k, v in domain.apply(balances, movement.deltas).items() if v}


def test_receipt_lands_in_quality_inspection_only_for_inspected_items() -> None:
    assert domain.receipt_status(inspection_required=True) is QI
    assert domain.receipt_status(inspection_required=False) is UNR


@pytest.mark.parametrize(
    ("movement", "start", "expected"),
    [
        (T.RELEASE, {("WH1", QI): 10.0}, {("WH1", QI): 6.0, ("WH1", UNR): 4.0}),
        (T.BLOCK, {("WH1", QI): 10.0}, {("WH1", QI): 6.0, ("WH1", BLK): 4.0}),
        (T.BLOCK, {("WH1", UNR): 10.0}, {("WH1", UNR): 6.0, ("WH1", BLK): 4.0}),
        (T.UNBLOCK, {("WH1", BLK): 10.0}, {("WH1", BLK): 6.0, ("WH1", UNR): 4.0}),
        (T.SCRAP, {("WH1", BLK): 10.0}, {("WH1", BLK): 6.0}),
        (T.RETURN_TO_VENDOR, {("WH1", BLK): 10.0}, {("WH1", BLK): 6.0}),
        (T.ISSUE, {("WH1", UNR): 10.0}, {("WH1", UNR): 6.0}),
        (T.TRANSFER, {("WH1", UNR): 10.0}, {("WH1", UNR): 6.0, ("WH2", UNR): 4.0}),
    ],
)
def test_each_movement_moves_stock_between_the_right_buckets(
    movement: MovementType, start: dict[domain.Key, float], expected: dict[domain.Key, float]
) -> None:
    planned = domain.plan_movement(
        start, movement, location="WH1", quantity=4, to_location="WH2", order_ref="MO-1"
    )
    assert after(start, planned) == expected


@pytest.mark.parametrize(
    ("movement", "status"),
    [
        (T.RELEASE, UNR),
        (T.RELEASE, BLK),
        (T.UNBLOCK, QI),
        (T.UNBLOCK, UNR),
        (T.ISSUE, QI),
        (T.ISSUE, BLK),
        (T.BLOCK, BLK),
    ],
)
def test_movements_from_a_status_they_do_not_apply_to_are_illegal(
    movement: MovementType, status: StockStatus
) -> None:
    with pytest.raises(domain.IllegalMovement) as error:
        domain.plan_movement(
            {("WH1", status): 5.0}, movement, location="WH1", quantity=1, from_status=status, order_ref="MO-1"
        )
    assert error.value.status == 409
    assert error.value.extensions["current_state"] == status


@pytest.mark.parametrize("held", [QI, BLK])
def test_issuing_held_stock_is_lot_on_hold(held: StockStatus) -> None:
    with pytest.raises(domain.LotOnHold) as error:
        domain.plan_movement({("WH1", held): 5.0}, T.ISSUE, location="WH1", quantity=1, order_ref="MO-1")
    assert error.value.slug == "lot-on-hold"


def test_issuing_more_than_is_free_but_nothing_held_is_insufficient_stock() -> None:
    with pytest.raises(domain.InsufficientStock):
        domain.plan_movement({("WH1", UNR): 2.0}, T.ISSUE, location="WH1", quantity=3, order_ref="MO-1")


def test_block_defaults_to_released_stock_when_nothing_is_in_inspection() -> None:
    planned = domain.plan_movement({("WH1", UNR): 5.0}, T.BLOCK, location="WH1", quantity=5)
    assert planned.from_status is UNR
    assert planned.to_status is BLK


def test_issue_needs_an_order_and_transfer_a_destination() -> None:
    with pytest.raises(Unprocessable):
        domain.plan_movement({("WH1", UNR): 5.0}, T.ISSUE, location="WH1", quantity=1)
    with pytest.raises(Unprocessable):
        domain.plan_movement({("WH1", UNR): 5.0}, T.TRANSFER, location="WH1", quantity=1, to_location="WH1")


def test_quantities_that_round_to_zero_are_refused() -> None:
    with pytest.raises(Unprocessable):
        kept_quantity(0.0001)


def test_reversal_negates_the_original_and_cannot_drive_stock_negative() -> None:
    start = {("WH1", QI): 10.0}
    release = domain.plan_movement(start, T.RELEASE, location="WH1", quantity=10)
    released = domain.apply(start, release.deltas)
    reversal = domain.plan_reversal(released, release)
    assert after(released, reversal) == {("WH1", QI): 10.0}
    issued = domain.apply(released, (domain.Delta("WH1", UNR, -10.0),))
    with pytest.raises(domain.InsufficientStock):
        domain.plan_reversal(issued, release)


def test_receipts_and_reversals_cannot_be_reversed() -> None:
    receipt = domain.recorded_movement(
        T.RECEIPT, location="WH1", quantity=1, from_status=None, to_status=QI, to_location=None
    )
    with pytest.raises(domain.IllegalMovement):
        domain.plan_reversal({("WH1", QI): 1.0}, receipt)


def test_a_recorded_transfer_rebuilds_the_same_deltas() -> None:
    start = {("WH1", BLK): 3.0}
    planned = domain.plan_movement(
        start, T.TRANSFER, location="WH1", quantity=3, from_status=BLK, to_location="Q1"
    )
    rebuilt = domain.recorded_movement(
        T.TRANSFER, location="WH1", quantity=3, from_status=BLK, to_status=BLK, to_location="Q1"
    )
    assert rebuilt.deltas == planned.deltas
