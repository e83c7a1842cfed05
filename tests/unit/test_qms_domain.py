"""QMS rules as pure functions: every state-machine edge and refusal, guards, result evaluation."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest

from contracts.kit.problems import IllegalTransition, Unprocessable
from contracts.kit.states import StateMachine
from contracts.models.qms import (
    CapaStatus,
    CharacteristicKind,
    Disposition,
    Evaluation,
    InspectionLotStatus,
    LotResult,
    NcStatus,
    SupplierCaseStatus,
)
from system_apis.qms import domain

L, N, S, C = InspectionLotStatus, NcStatus, SupplierCaseStatus, CapaStatus
NUM, ATTR = CharacteristicKind.NUMERIC, CharacteristicKind.ATTRIBUTE

# The state machines as the issue states them, written out here independently of the code.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "inspection lot": {
        (L.CREATED, "start", L.IN_INSPECTION),
        (L.IN_INSPECTION, "record_results", L.RESULTS_RECORDED),
        (L.RESULTS_RECORDED, "record_results", L.RESULTS_RECORDED),
        (L.RESULTS_RECORDED, "decide", L.DECIDED),
        (L.DECIDED, "decide", L.DECIDED),
        (L.DECIDED, "post_stock", L.STOCK_POSTED),
        (L.STOCK_POSTED, "close", L.CLOSED),
        (L.CREATED, "cancel", L.CANCELLED),
        (L.IN_INSPECTION, "cancel", L.CANCELLED),
        (L.RESULTS_RECORDED, "cancel", L.CANCELLED),
    },
    "nonconformance": {
        (N.OPEN, "start_analysis", N.UNDER_ANALYSIS),
        (N.UNDER_ANALYSIS, "plan_action", N.ACTION_PLANNED),
        (N.ACTION_PLANNED, "start", N.IN_PROGRESS),
        (N.IN_PROGRESS, "close", N.CLOSED),
        (N.OPEN, "cancel", N.CANCELLED),
        (N.UNDER_ANALYSIS, "cancel", N.CANCELLED),
        (N.ACTION_PLANNED, "cancel", N.CANCELLED),
        (N.IN_PROGRESS, "cancel", N.CANCELLED),
        (N.CLOSED, "reopen", N.IN_PROGRESS),
    },
    "supplier case": {
        (S.OPEN, "issue", S.ISSUED),
        (S.ISSUED, "respond", S.RESPONSE_RECEIVED),
        (S.RESPONSE_RECEIVED, "accept", S.ACCEPTED),
        (S.RESPONSE_RECEIVED, "reject", S.REJECTED),
        (S.REJECTED, "issue", S.ISSUED),
        (S.ACCEPTED, "close", S.CLOSED),
        (S.OPEN, "cancel", S.CANCELLED),
        (S.ISSUED, "cancel", S.CANCELLED),
        (S.REJECTED, "cancel", S.CANCELLED),
    },
    "capa": {
        (C.DRAFT, "open", C.OPEN),
        (C.OPEN, "implement", C.IMPLEMENTED),
        (C.IMPLEMENTED, "verify", C.VERIFIED),
        (C.IMPLEMENTED, "reopen", C.OPEN),
        (C.VERIFIED, "close", C.CLOSED),
        (C.DRAFT, "cancel", C.CANCELLED),
        (C.OPEN, "cancel", C.CANCELLED),
    },
}


def _lot(current: str, action: str) -> str:
    if action == "record_results":
        return domain.after_results(current, complete=True)
    if action == "decide":
        return domain.decide(current, LotResult.PASS, Disposition.RELEASE)
    return domain.INSPECTION_LOT.target(L(current), action)


def _nc(current: str, action: str) -> str:
    return domain.nc_transition(current, action, action_plan="8D team", effectiveness_note="no repeats")


def _case(current: str, action: str) -> str:
    return domain.SUPPLIER_CASE.target(S(current), action)


def _capa(current: str, action: str) -> str:
    return domain.capa_transition(current, action, actions_done=[True, True])


# Each machine with the domain function the service calls to move it (guards satisfied).
MACHINES: dict[str, tuple[StateMachine[Any], Callable[[str, str], str]]] = {
    "inspection lot": (domain.INSPECTION_LOT, _lot),
    "nonconformance": (domain.NONCONFORMANCE, _nc),
    "supplier case": (domain.SUPPLIER_CASE, _case),
    "capa": (domain.CAPA, _capa),
}

EDGES = [(name, *edge) for name, (machine, _) in MACHINES.items() for edge in machine.edges()]
REFUSALS = [(name, *refusal) for name, (machine, _) in MACHINES.items() for refusal in machine.refusals()]


@pytest.mark.parametrize("name", list(MACHINES))
def test_each_machine_has_exactly_the_specified_transitions(name: str) -> None:
    machine, _ = MACHINES[name]
    assert {(str(a), b, str(c)) for a, b, c in machine.edges()} == EXPECTED[name]


@pytest.mark.parametrize(("name", "source", "action", "target"), EDGES, ids=lambda v: str(v))
def test_every_transition_reaches_its_target(
    name: str, source: StrEnum, action: str, target: StrEnum
) -> None:
    _, move = MACHINES[name]
    assert move(source, action) == target


@pytest.mark.parametrize(("name", "state", "action"), REFUSALS, ids=lambda v: str(v))
def test_every_illegal_transition_is_a_409_naming_the_current_state(
    name: str, state: StrEnum, action: str
) -> None:
    _, move = MACHINES[name]
    with pytest.raises(IllegalTransition) as refused:
        move(state, action)
    assert refused.value.status == 409
    assert refused.value.extensions["current_state"] == state
    assert f"is {state};" in refused.value.detail


@pytest.mark.parametrize(("name", "state"), [(n, s) for n, (m, _) in MACHINES.items() for s in m.states])
def test_allowed_actions_are_exactly_the_legal_ones(name: str, state: StrEnum) -> None:
    machine, _ = MACHINES[name]
    assert set(machine.actions(state)) == {a for s, a, _ in EXPECTED[name] if s == state}


# --- guards ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "action"), [(N.UNDER_ANALYSIS, "plan_action"), (N.ACTION_PLANNED, "start")]
)
def test_nonconformance_needs_an_action_plan_before_it_is_worked_on(state: NcStatus, action: str) -> None:
    with pytest.raises(domain.GuardFailed) as refused:
        domain.nc_transition(state, action, action_plan=None, effectiveness_note=None)
    assert refused.value.status == 409
    assert refused.value.slug == "action-plan-required"
    assert refused.value.extensions["current_state"] == state


def test_nonconformance_needs_an_effectiveness_note_before_it_closes() -> None:
    with pytest.raises(domain.GuardFailed) as refused:
        domain.nc_transition(N.IN_PROGRESS, "close", action_plan="plan", effectiveness_note="")
    assert refused.value.slug == "effectiveness-note-required"
    assert refused.value.extensions["current_state"] == N.IN_PROGRESS


def test_an_illegal_nonconformance_move_is_refused_before_its_guard() -> None:
    with pytest.raises(IllegalTransition):
        domain.nc_transition(N.OPEN, "close", action_plan=None, effectiveness_note=None)


@pytest.mark.parametrize(
    ("done", "slug"), [([], "actions-required"), ([True, False], "actions-open"), ([False], "actions-open")]
)
def test_capa_is_implemented_only_when_it_has_actions_and_all_are_done(done: list[bool], slug: str) -> None:
    with pytest.raises(domain.GuardFailed) as refused:
        domain.capa_transition(C.OPEN, "implement", actions_done=done)
    assert refused.value.slug == slug
    assert refused.value.extensions["current_state"] == C.OPEN


@pytest.mark.parametrize(("current", "action"), [(C.IMPLEMENTED, "verify"), (C.VERIFIED, "close")])
def test_a_capa_whose_actions_changed_after_implementation_is_verified_and_closed_only_when_all_are_done(
    current: str, action: str
) -> None:
    with pytest.raises(domain.GuardFailed) as refused:
        domain.capa_transition(current, action, actions_done=[True, False])
    assert refused.value.slug == "actions-open"
    assert domain.capa_transition(current, action, actions_done=[True, True]) in (C.VERIFIED, C.CLOSED)
    # Reopening (not effective: back to work) needs nothing done.
    assert domain.capa_transition(C.IMPLEMENTED, "reopen", actions_done=[False]) == C.OPEN


def test_a_failed_lot_cannot_be_released_but_may_be_used_as_is() -> None:
    with pytest.raises(domain.DecisionContradictsResult) as refused:
        domain.decide(L.RESULTS_RECORDED, LotResult.FAIL, Disposition.RELEASE)
    assert refused.value.status == 409
    assert refused.value.extensions["current_state"] == L.RESULTS_RECORDED
    assert domain.decide(L.RESULTS_RECORDED, LotResult.FAIL, Disposition.USE_AS_IS) == L.DECIDED
    assert domain.decide(L.DECIDED, LotResult.FAIL, Disposition.SCRAP) == L.DECIDED


def test_results_move_the_lot_on_only_when_every_characteristic_has_one() -> None:
    assert domain.after_results(L.IN_INSPECTION, complete=False) == L.IN_INSPECTION
    assert domain.after_results(L.IN_INSPECTION, complete=True) == L.RESULTS_RECORDED
    assert domain.after_results(L.RESULTS_RECORDED, complete=True) == L.RESULTS_RECORDED
    with pytest.raises(IllegalTransition):
        domain.after_results(L.CREATED, complete=False)


# --- characteristics and results ----------------------------------------------------------------------
DIAMETER = domain.Spec("DIA", NUM, min_value=9.95, max_value=10.05, unit="mm")


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (DIAMETER, 10.0, Evaluation.PASS),
        (DIAMETER, 9.95, Evaluation.PASS),  # limits are inclusive
        (DIAMETER, 10.05, Evaluation.PASS),
        (DIAMETER, 9.949, Evaluation.FAIL),
        (DIAMETER, 10.051, Evaluation.FAIL),
        (domain.Spec("HARD", NUM, min_value=58, unit="HRC"), 1000.0, Evaluation.PASS),
        (domain.Spec("HARD", NUM, min_value=58, unit="HRC"), 57.9, Evaluation.FAIL),
        (domain.Spec("RA", NUM, max_value=0.8, unit="um"), -1.0, Evaluation.PASS),
        (domain.Spec("RA", NUM, max_value=0.8, unit="um"), 0.81, Evaluation.FAIL),
    ],
)
def test_numeric_results_are_judged_against_their_limits(
    spec: domain.Spec, value: float, expected: Evaluation
) -> None:
    stored, evaluation = domain.evaluate(spec, domain.Measurement(value=value))
    assert evaluation is expected
    assert (stored.value, stored.unit) == (value, spec.unit)  # the unit is always stored


def test_a_measurement_keeps_its_uncertainty() -> None:
    stored, _ = domain.evaluate(DIAMETER, domain.Measurement(value=10.01, unit="mm", uncertainty=0.002))
    assert stored == domain.Measurement(value=10.01, unit="mm", uncertainty=0.002)


@pytest.mark.parametrize(("conforming", "expected"), [(True, Evaluation.PASS), (False, Evaluation.FAIL)])
def test_attribute_results_pass_or_fail(conforming: bool, expected: Evaluation) -> None:
    _, evaluation = domain.evaluate(domain.Spec("VIS", ATTR), domain.Measurement(conforming=conforming))
    assert evaluation is expected


@pytest.mark.parametrize(
    ("spec", "entry", "slug"),
    [
        (DIAMETER, domain.Measurement(value=10.0, unit="in"), "unit-mismatch"),
        (DIAMETER, domain.Measurement(conforming=True), "invalid-result"),
        (DIAMETER, domain.Measurement(), "invalid-result"),
        (domain.Spec("VIS", ATTR), domain.Measurement(value=1.0), "invalid-result"),
        (domain.Spec("VIS", ATTR), domain.Measurement(conforming=True, unit="mm"), "invalid-result"),
        (domain.Spec("VIS", ATTR), domain.Measurement(conforming=True, uncertainty=0.1), "invalid-result"),
    ],
)
def test_a_result_of_the_wrong_shape_is_422(spec: domain.Spec, entry: domain.Measurement, slug: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        domain.evaluate(spec, entry)
    assert refused.value.slug == slug


@pytest.mark.parametrize(
    "spec",
    [
        domain.Spec("A", NUM, min_value=1, max_value=2),  # no unit
        domain.Spec("A", NUM, unit="mm"),  # no limits
        domain.Spec("A", NUM, min_value=2, max_value=1, unit="mm"),  # inverted
        domain.Spec("A", ATTR, unit="mm"),
        domain.Spec("A", ATTR, max_value=1),
    ],
)
def test_inconsistent_characteristics_are_refused(spec: domain.Spec) -> None:
    with pytest.raises(Unprocessable, match="characteristic A"):
        domain.check_spec(spec)


def test_characteristic_codes_are_unique_within_a_lot() -> None:
    with pytest.raises(Unprocessable) as refused:
        domain.check_specs([DIAMETER, domain.Spec("VIS", ATTR), DIAMETER])
    assert refused.value.slug == "duplicate-characteristic"
    domain.check_specs([DIAMETER, domain.Spec("VIS", ATTR)])


@pytest.mark.parametrize(
    ("evaluations", "expected"),
    [
        ([], LotResult.PENDING),
        ([None, None], LotResult.PENDING),
        ([Evaluation.PASS, None], LotResult.PENDING),
        ([Evaluation.FAIL, None], LotResult.FAIL),  # one failure fails the lot at once
        ([Evaluation.PASS, Evaluation.FAIL], LotResult.FAIL),
        ([Evaluation.PASS, Evaluation.PASS], LotResult.PASS),
    ],
)
def test_the_lot_result_follows_its_characteristics(
    evaluations: list[Evaluation | None], expected: LotResult
) -> None:
    assert domain.lot_result(evaluations) is expected


def test_refuse_if_frozen_names_the_state() -> None:
    with pytest.raises(IllegalTransition) as refused:
        domain.refuse_if_frozen("nonconformance", N.CLOSED, domain.FROZEN_NC)
    assert refused.value.extensions["current_state"] == N.CLOSED
    domain.refuse_if_frozen("nonconformance", N.OPEN, domain.FROZEN_NC)


def test_unique_keeps_first_occurrences_in_order() -> None:
    assert domain.unique(["B", "A", "B", "C", "A"]) == ["B", "A", "C"]
