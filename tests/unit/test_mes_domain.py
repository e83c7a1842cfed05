"""MES rules as pure functions: every state-machine edge and refusal, quantities, operations."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.kit.problems import IllegalTransition, Unprocessable
from contracts.kit.states import StateMachine, require_state
from contracts.models.mes import EquipmentState, ProductionOrderStatus
from system_apis.mes import domain

P, E = ProductionOrderStatus, EquipmentState

# The state machines as the issue and DESIGN.md §6 state them, written out independently of the code.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "production order": {
        (P.PLANNED, "release", P.RELEASED),
        (P.RELEASED, "start", P.RUNNING),
        (P.RUNNING, "hold", P.HELD),
        (P.HELD, "resume", P.RUNNING),
        (P.RUNNING, "complete", P.COMPLETED),
        (P.HELD, "complete", P.COMPLETED),
        (P.COMPLETED, "close", P.CLOSED),
        (P.PLANNED, "cancel", P.CANCELLED),
        (P.RELEASED, "cancel", P.CANCELLED),
    },
    "equipment": {
        (E.IDLE, "run", E.RUNNING),
        (E.DOWN, "run", E.RUNNING),
        (E.RUNNING, "idle", E.IDLE),
        (E.DOWN, "idle", E.IDLE),
        (E.RUNNING, "down", E.DOWN),
        (E.IDLE, "down", E.DOWN),
        # A machine whose connection is lost is disconnected, whatever it was doing; it comes back
        # in whatever state it reports.
        (E.RUNNING, "disconnect", E.DISCONNECTED),
        (E.IDLE, "disconnect", E.DISCONNECTED),
        (E.DOWN, "disconnect", E.DISCONNECTED),
        (E.DISCONNECTED, "run", E.RUNNING),
        (E.DISCONNECTED, "idle", E.IDLE),
        (E.DISCONNECTED, "down", E.DOWN),
    },
}
MACHINES: dict[str, StateMachine[Any]] = {
    "production order": domain.PRODUCTION_ORDER,
    "equipment": domain.EQUIPMENT,
}
EDGES = [(name, a, b, c) for name, edges in EXPECTED.items() for a, b, c in sorted(edges)]
REFUSALS = [(name, s, a) for name, machine in MACHINES.items() for s, a in machine.refusals()]


def test_the_machines_are_exactly_the_specified_ones() -> None:
    for name, machine in MACHINES.items():
        assert set(machine.edges()) == EXPECTED[name], name


@pytest.mark.parametrize(("name", "source", "action", "target"), EDGES, ids=str)
def test_every_transition(name: str, source: Any, action: str, target: Any) -> None:
    machine = MACHINES[name]
    assert machine.target(source, action) == target
    assert action in machine.actions(source)


@pytest.mark.parametrize(("name", "state", "action"), REFUSALS, ids=str)
def test_every_refusal_is_a_409_naming_the_current_state(name: str, state: Any, action: str) -> None:
    with pytest.raises(IllegalTransition) as refused:
        MACHINES[name].target(state, action)
    assert refused.value.status == 409
    assert refused.value.extensions == {"current_state": state, "action": action}
    assert refused.value.detail == f"{name} is {state}; cannot {action}"


def test_equipment_is_moved_by_naming_the_state_it_goes_to() -> None:
    for state in E:
        assert domain.EQUIPMENT.transitions[domain.ACTION_TO[state]].target == state
    # Reporting the state it is already in is refused, so a repeated signal is visible.
    for state in E:
        with pytest.raises(IllegalTransition):
            domain.EQUIPMENT.target(state, domain.ACTION_TO[state])


def test_only_a_running_order_takes_quantities_material_and_batches() -> None:
    for state in P:
        if state == P.RUNNING:
            require_state("production order", state, domain.PRODUCING, "confirm an operation")
        else:
            with pytest.raises(IllegalTransition, match=f"is {state}; cannot confirm"):
                require_state("production order", state, domain.PRODUCING, "confirm an operation")


def test_order_totals_take_good_from_the_last_operation_and_scrap_from_all() -> None:
    ops = [
        domain.OperationQuantities(20, good=295, scrap=6),
        domain.OperationQuantities(10, good=300, scrap=4),
    ]
    assert domain.order_totals(ops) == (295, 10)
    assert domain.order_totals([]) == (0.0, 0.0)
    assert domain.order_totals([domain.OperationQuantities(10, 0.1 + 0.2, 0.0)]) == (0.3, 0.0)


def test_confirmation_reports_something_and_operations_are_unique() -> None:
    domain.check_confirmation(0, 1)
    domain.check_confirmation(5, 0)
    with pytest.raises(Unprocessable, match="above zero"):
        domain.check_confirmation(0, 0)
    domain.check_operations([10, 20, 30])
    with pytest.raises(Unprocessable) as refused:
        domain.check_operations([10, 20, 10])
    assert refused.value.slug == "duplicate-operation"


@pytest.mark.parametrize(
    ("before", "after", "open_period", "opens", "closes"),
    [
        (E.RUNNING, E.DOWN, False, True, False),
        (E.IDLE, E.DOWN, False, True, False),
        (E.DOWN, E.RUNNING, True, False, True),
        (E.DOWN, E.IDLE, True, False, True),
        # Down, then the connection drops and comes back down: still the same stop.
        (E.DOWN, E.DISCONNECTED, True, False, False),
        (E.DISCONNECTED, E.DOWN, True, False, False),
        (E.DISCONNECTED, E.RUNNING, True, False, True),
        # Disconnected while running, back down: a new stop.
        (E.DISCONNECTED, E.DOWN, False, True, False),
        (E.RUNNING, E.IDLE, False, False, False),
        (E.RUNNING, E.DISCONNECTED, False, False, False),
    ],
)
def test_downtime_opens_on_a_stop_and_closes_when_running_or_idle_again(
    before: EquipmentState, after: EquipmentState, open_period: bool, opens: bool, closes: bool
) -> None:
    assert domain.EQUIPMENT.can(before, domain.ACTION_TO[after])
    change = domain.downtime_change(after, open_period)
    assert (change.opens, change.closes) == (opens, closes)
