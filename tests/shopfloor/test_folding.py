"""The fold: debounce, alarms, counters and the order of what MES hears. Pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.shopfloor.folding import Confirm, Fold, Rules, SetState, observe, tick
from connectors.shopfloor.readings import Reading
from contracts.models.mes import EquipmentState

RUNNING, IDLE, DOWN, GONE = (
    EquipmentState.RUNNING,
    EquipmentState.IDLE,
    EquipmentState.DOWN,
    EquipmentState.DISCONNECTED,
)
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULES = Rules(debounce=timedelta(seconds=1), count_flush=timedelta(seconds=10))
INSTANT = Rules(debounce=timedelta(0), count_flush=timedelta(seconds=10))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def read(seconds: float, **values: object) -> Reading:
    return Reading("spBv1.0/P1/edge/CNC-7", at(seconds), **values)  # type: ignore[arg-type]


def test_without_debounce_every_change_is_applied_once_in_order() -> None:
    fold = Fold()
    assert observe(fold, read(0, state=RUNNING), at(0), INSTANT) == [SetState(RUNNING, None, at(0))]
    assert observe(fold, read(1, state=RUNNING), at(1), INSTANT) == []  # a level repeated is no change
    assert observe(fold, read(2, state=IDLE), at(2), INSTANT) == [SetState(IDLE, None, at(2))]


def test_a_state_shorter_than_the_debounce_is_chatter_and_never_reaches_mes() -> None:
    fold = Fold()
    observe(fold, read(0, state=RUNNING), at(0), INSTANT)
    assert observe(fold, read(10.0, state=DOWN), at(10.0), RULES) == []
    assert observe(fold, read(10.3, state=RUNNING), at(10.3), RULES) == []
    assert tick(fold, at(20), RULES) == []
    assert (fold.applied, fold.pending, fold.chatter) == (RUNNING, None, 1)


def test_a_held_state_is_applied_by_the_machine_clock_when_a_later_reading_proves_it() -> None:
    # A backlog arriving all at once (after a reconnect) keeps every real change.
    fold = Fold()
    observe(fold, read(0, state=RUNNING), at(0), INSTANT)
    received = at(100)
    assert observe(fold, read(10, state=DOWN, alarm="E-204"), received, RULES) == []
    assert observe(fold, read(15, state=RUNNING, alarm=""), received, RULES) == [
        SetState(DOWN, "E-204", at(10))
    ]
    assert observe(fold, read(15.5, good=1), received, RULES) == []
    assert tick(fold, received + timedelta(seconds=1), RULES) == [SetState(RUNNING, None, at(15))]


def test_a_state_nothing_follows_is_applied_when_the_debounce_passed_on_our_clock() -> None:
    fold = Fold()
    observe(fold, read(0, state=RUNNING), at(0), INSTANT)
    observe(fold, read(5, state=IDLE), at(5.02), RULES)
    assert tick(fold, at(5.9), RULES) == []
    assert tick(fold, at(6.1), RULES) == [SetState(IDLE, None, at(5))]
    assert tick(fold, at(7), RULES) == []


def test_an_active_alarm_means_down_and_names_the_stop() -> None:
    fold = Fold()
    observe(fold, read(0, state=RUNNING, alarm=""), at(0), INSTANT)
    # The alarm arrives apart from the state (OPC UA reports nodes one by one).
    assert observe(fold, read(3, alarm="SPINDLE-OVERLOAD"), at(3), INSTANT) == [
        SetState(DOWN, "SPINDLE-OVERLOAD", at(3))
    ]
    assert observe(fold, read(3, state=DOWN), at(3), INSTANT) == []
    assert observe(fold, read(9, alarm=""), at(9), INSTANT) == []  # still reported down
    assert observe(fold, read(9.5, state=RUNNING), at(9.5), INSTANT) == [SetState(RUNNING, None, at(9.5))]
    plain = Fold()
    observe(
        plain, read(0, state=RUNNING), at(0), Rules(timedelta(0), timedelta(seconds=10), down_on_alarm=False)
    )
    assert (
        observe(plain, read(1, alarm="W-12"), at(1), Rules(timedelta(0), timedelta(1), down_on_alarm=False))
        == []
    )


def test_an_alarm_named_while_the_stop_is_pending_goes_with_it() -> None:
    fold = Fold()
    observe(fold, read(0, state=RUNNING), at(0), INSTANT)
    assert observe(fold, read(4, state=DOWN), at(4), RULES) == []
    assert observe(fold, read(4.1, alarm="E-17"), at(4.1), RULES) == []
    assert tick(fold, at(5.1), RULES) == [SetState(DOWN, "E-17", at(4))]


def test_counters_are_confirmed_as_differences_and_the_first_value_is_a_baseline() -> None:
    fold = Fold()
    assert observe(fold, read(0, state=RUNNING, good=1000, scrap=7), at(0), INSTANT) == [
        SetState(RUNNING, None, at(0))
    ]
    assert observe(fold, read(1, good=1004), at(1), INSTANT) == []
    assert observe(fold, read(2, good=1010, scrap=8), at(2), INSTANT) == []
    assert tick(fold, at(10.5), INSTANT) == []
    assert tick(fold, at(11.0), INSTANT) == [Confirm(10, 1, 1010, 8, at(11.0))]
    assert tick(fold, at(30), INSTANT) == []
    # The controller restarted and its counter began again at zero.
    observe(fold, read(31, good=3), at(31), INSTANT)
    assert tick(fold, at(41), INSTANT) == [Confirm(3, 0, 3, 8, at(41))]


def test_parts_made_before_a_stop_are_confirmed_before_it() -> None:
    fold = Fold()
    observe(fold, read(0, state=RUNNING, good=0, scrap=0), at(0), INSTANT)
    observe(fold, read(1, good=5), at(1), INSTANT)
    # Idling leaves the order running: its parts are confirmed with the next batch.
    assert observe(fold, read(2, state=IDLE, good=6), at(2), INSTANT) == [SetState(IDLE, None, at(2))]
    observe(fold, read(3, state=RUNNING, good=6), at(3), INSTANT)
    assert observe(fold, read(4, state=DOWN, alarm="E-1", good=7), at(4), INSTANT) == [
        Confirm(7, 0, 7, 0, at(4)),
        SetState(DOWN, "E-1", at(4)),
    ]


def test_a_lost_connection_is_disconnected_whatever_the_alarm_and_the_machine_comes_back_as_reported() -> (
    None
):
    fold = Fold()
    observe(fold, read(0, state=DOWN, alarm="E-1"), at(0), INSTANT)
    assert observe(fold, read(5, state=GONE), at(5), INSTANT) == [SetState(GONE, None, at(5))]
    assert observe(fold, read(9, state=DOWN, alarm="E-1"), at(9), INSTANT) == [SetState(DOWN, "E-1", at(9))]
