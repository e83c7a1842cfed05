"""The Tryton connector's pure translations: movement kinds from locations, balances from moves,
purchase status, the location map, Tryton's JSON types, and the operation key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest

from contracts.models.erp import MovementType, PurchaseOrderStatus, StockStatus
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import (
    TrytonBusy,
    TrytonClient,
    TrytonRefused,
    TrytonUnavailable,
    _decode,
    _wire,
)
from system_apis.erp.backends.tryton.mapping import BLK, QI, UNR, Places
from system_apis.erp.backends.tryton.settings import parse_location_map


@pytest.mark.parametrize(
    ("source", "target", "target_type", "kind"),
    [
        (None, ("WH1", QI), "storage", MovementType.RECEIPT),
        (("WH1", QI), ("WH1", UNR), "storage", MovementType.RELEASE),
        (("WH1", QI), ("WH1", BLK), "storage", MovementType.BLOCK),
        (("WH1", UNR), ("WH1", BLK), "storage", MovementType.BLOCK),
        (("WH1", BLK), ("WH1", UNR), "storage", MovementType.UNBLOCK),
        (("WH1", UNR), ("WH2", UNR), "storage", MovementType.TRANSFER),
        (("WH1", BLK), None, "lost_found", MovementType.SCRAP),
        (("WH1", BLK), None, "supplier", MovementType.RETURN_TO_VENDOR),
        (("WH1", UNR), None, "production", MovementType.ISSUE),
        (("WH1", UNR), None, "customer", MovementType.DELIVERY),
        (("WH1", UNR), None, "view", None),
        (None, None, "storage", None),
    ],
)
def test_a_done_move_is_the_movement_its_locations_say(source, target, target_type, kind) -> None:
    assert mapping.movement_type(source, target, target_type) == kind


def test_balances_count_done_moves_in_and_out_of_mapped_locations_only() -> None:
    places = Places(ids={("WH1", QI): 11, ("WH1", BLK): 12}, keys={11: ("WH1", QI), 12: ("WH1", BLK)})
    moves = [
        {"state": "done", "from_location": 6, "to_location": 11, "internal_quantity": 60.0},  # receipt
        {"state": "done", "from_location": 11, "to_location": 12, "internal_quantity": 25.5},  # block
        {"state": "draft", "from_location": 11, "to_location": 12, "internal_quantity": 30.0},  # not yet
        {"state": "cancelled", "from_location": 11, "to_location": 4, "internal_quantity": 1.0},
    ]
    assert mapping.balances(moves, places) == {("WH1", QI): 34.5, ("WH1", BLK): 25.5}


@pytest.mark.parametrize(
    ("state", "shipment_state", "status"),
    [
        ("processing", "waiting", PurchaseOrderStatus.OPEN),
        ("processing", "partially shipped", PurchaseOrderStatus.PARTIALLY_RECEIVED),
        ("processing", "received", PurchaseOrderStatus.RECEIVED),
        ("done", "received", PurchaseOrderStatus.RECEIVED),
        ("cancelled", "none", PurchaseOrderStatus.CANCELLED),
    ],
)
def test_purchase_status(state: str, shipment_state: str, status: PurchaseOrderStatus) -> None:
    assert mapping.purchase_status(state, shipment_state) == status


def test_the_location_map_names_each_tryton_location_once() -> None:
    parsed = parse_location_map(
        '{"WH1": {"unrestricted": "A", "quality_inspection": "B", "blocked": "C"},'
        ' "WH2": {"unrestricted": "D", "quality_inspection": "E", "blocked": "F"}}'
    )
    assert parsed["WH2"].by_status()[StockStatus.BLOCKED] == "F"
    with pytest.raises(ValueError, match="named for WH1"):
        parse_location_map(
            '{"WH1": {"unrestricted": "A", "quality_inspection": "B", "blocked": "C"},'
            ' "WH2": {"unrestricted": "D", "quality_inspection": "B", "blocked": "F"}}'
        )
    with pytest.raises(ValueError, match="not a valid location map"):
        parse_location_map('{"WH1": {"unrestricted": "A"}}')


def test_tryton_json_types_go_and_come_back() -> None:
    values = {
        "when": dt.datetime(2026, 12, 6, 15, 38, 40, 670970),
        "day": dt.date(2026, 12, 6),
        "price": Decimal("2.3500"),
        "nested": [("add", [1, 2])],
    }
    wired = _wire(values)
    assert wired["price"] == {"__class__": "Decimal", "decimal": "2.3500"}
    assert wired["day"] == {"__class__": "date", "year": 2026, "month": 12, "day": 6}
    assert _decode(wired) == {**values, "nested": [["add", [1, 2]]]}


def test_versions_change_with_every_write() -> None:
    first = dt.datetime(2026, 12, 6, 15, 38, 40, 670970)
    assert mapping.version(first) < mapping.version(first + dt.timedelta(microseconds=1))
    assert mapping.utc(first).tzinfo is dt.UTC


def test_a_purchase_whose_every_planned_move_was_cancelled_is_cancelled() -> None:
    # Cancelled in Tryton (moves cancelled, the exception ignored): Tryton keeps it processing.
    assert mapping.purchase_status("processing", "none", [{"cancelled"}]) == PurchaseOrderStatus.CANCELLED
    # One line still planned, or re-planned after the cancel: still open.
    assert (
        mapping.purchase_status("processing", "waiting", [{"cancelled"}, {"draft"}])
        == PurchaseOrderStatus.OPEN
    )
    assert (
        mapping.purchase_status("processing", "waiting", [{"cancelled", "draft"}]) == PurchaseOrderStatus.OPEN
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # Tryton's answer when its stock reservation lost the race for the moves' row lock
        (['could not obtain lock on row in relation "stock_move"', "Traceback ..."], TrytonBusy),
        (["could not serialize access due to concurrent update", "Traceback ..."], TrytonBusy),
        (["division by zero", "Traceback ..."], TrytonUnavailable),
        (["UserError", ["Not enough stock", "", ""]], TrytonRefused),
    ],
)
def test_tryton_errors_are_told_apart(error: list[object], kind: type[Exception]) -> None:
    client = TrytonClient("http://127.0.0.1:1", "db", "user", "secret")
    body = msgspec.json.encode({"id": 1, "error": error})
    with pytest.raises(kind) as raised:
        client._result("model.stock.shipment.internal.assign_try", 200, body)
    assert type(raised.value) is kind
    client.pool.close()
