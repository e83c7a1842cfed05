"""Quality rules: state machines, evaluation of results against limits, guards. No I/O.

Each state machine is a table (contracts/kit/states.py) of action -> (from states, to state),
so the legal moves are data a test can walk and a response can show (`allowed_actions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.kit.problems import Conflict, IllegalTransition, Unprocessable
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

L, N, S, C = InspectionLotStatus, NcStatus, SupplierCaseStatus, CapaStatus

INSPECTION_LOT = StateMachine(
    "inspection lot",
    L,
    {
        "start": ([L.CREATED], L.IN_INSPECTION),
        # Results may be corrected until a decision; the lot is results_recorded once all are in.
        "record_results": ([L.IN_INSPECTION, L.RESULTS_RECORDED], L.RESULTS_RECORDED),
        # Deciding again before stock is posted adds a revision; the earlier ones stay.
        "decide": ([L.RESULTS_RECORDED, L.DECIDED], L.DECIDED),
        "post_stock": ([L.DECIDED], L.STOCK_POSTED),
        "close": ([L.STOCK_POSTED], L.CLOSED),
        "cancel": ([L.CREATED, L.IN_INSPECTION, L.RESULTS_RECORDED], L.CANCELLED),
    },
)

NONCONFORMANCE = StateMachine(
    "nonconformance",
    N,
    {
        "start_analysis": ([N.OPEN], N.UNDER_ANALYSIS),
        "plan_action": ([N.UNDER_ANALYSIS], N.ACTION_PLANNED),
        "start": ([N.ACTION_PLANNED], N.IN_PROGRESS),
        "close": ([N.IN_PROGRESS], N.CLOSED),
        "cancel": ([N.OPEN, N.UNDER_ANALYSIS, N.ACTION_PLANNED, N.IN_PROGRESS], N.CANCELLED),
        "reopen": ([N.CLOSED], N.IN_PROGRESS),
    },
)

SUPPLIER_CASE = StateMachine(
    "supplier case",
    S,
    {
        "issue": ([S.OPEN, S.REJECTED], S.ISSUED),
        "respond": ([S.ISSUED], S.RESPONSE_RECEIVED),
        "accept": ([S.RESPONSE_RECEIVED], S.ACCEPTED),
        "reject": ([S.RESPONSE_RECEIVED], S.REJECTED),
        "close": ([S.ACCEPTED], S.CLOSED),
        "cancel": ([S.OPEN, S.ISSUED, S.REJECTED], S.CANCELLED),
    },
)

CAPA = StateMachine(
    "capa",
    C,
    {
        "open": ([C.DRAFT], C.OPEN),
        "implement": ([C.OPEN], C.IMPLEMENTED),
        # Both record an effectiveness check: effective (verify) or not (reopen: back to work).
        "verify": ([C.IMPLEMENTED], C.VERIFIED),
        "reopen": ([C.IMPLEMENTED], C.OPEN),
        "close": ([C.VERIFIED], C.CLOSED),
        "cancel": ([C.DRAFT, C.OPEN], C.CANCELLED),
    },
)

# Records in these states are history: their fields no longer change.
FROZEN_NC = frozenset({N.CLOSED, N.CANCELLED})
FROZEN_CASE = frozenset({S.CLOSED, S.CANCELLED, S.ACCEPTED})
FROZEN_CAPA = frozenset({C.CLOSED, C.CANCELLED})


class GuardFailed(Conflict):
    """The transition is legal from this state but a precondition is missing."""

    slug, title = "guard-failed", "Transition precondition not met"

    def __init__(self, entity: str, current_state: str, action: str, missing: str, slug: str) -> None:
        super().__init__(
            f"{entity} is {current_state}; cannot {action} without {missing}",
            slug=slug,
            current_state=current_state,
            action=action,
            missing=missing,
        )


class DecisionContradictsResult(Conflict):
    slug, title = "decision-contradicts-result", "Decision contradicts the inspection result"


def refuse_if_frozen(entity: str, current: str, frozen: frozenset[str]) -> None:
    if current in frozen:
        raise IllegalTransition(entity, current, "change fields")


# --- inspection characteristics and results -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Spec:
    code: str
    kind: CharacteristicKind
    min_value: float | None = None
    max_value: float | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Measurement:
    """One result as entered: a value in a unit (numeric) or a conforming flag (attribute)."""

    value: float | None = None
    unit: str | None = None
    uncertainty: float | None = None
    conforming: bool | None = None


def check_spec(spec: Spec) -> None:
    bad = f"characteristic {spec.code}:"
    if spec.kind is CharacteristicKind.NUMERIC:
        if spec.unit is None:
            raise Unprocessable(f"{bad} a numeric characteristic needs a unit", slug="invalid-characteristic")
        if spec.min_value is None and spec.max_value is None:
            raise Unprocessable(
                f"{bad} a numeric characteristic needs min_value, max_value or both",
                slug="invalid-characteristic",
            )
        if spec.min_value is not None and spec.max_value is not None and spec.min_value > spec.max_value:
            raise Unprocessable(
                f"{bad} min_value {spec.min_value:g} is above max_value {spec.max_value:g}",
                slug="invalid-characteristic",
            )
    elif spec.min_value is not None or spec.max_value is not None or spec.unit is not None:
        raise Unprocessable(
            f"{bad} an attribute characteristic has no limits or unit; it passes or fails",
            slug="invalid-characteristic",
        )


def check_specs(specs: list[Spec]) -> None:
    duplicates = sorted({s.code for s in specs if sum(o.code == s.code for o in specs) > 1})
    if duplicates:
        raise Unprocessable(
            f"characteristic codes repeat: {', '.join(duplicates)}", slug="duplicate-characteristic"
        )
    for spec in specs:
        check_spec(spec)


def evaluate(spec: Spec, entry: Measurement) -> tuple[Measurement, Evaluation]:
    """Check a result has the right shape for its characteristic, then judge it against the limits."""
    bad = f"result for {spec.code}:"
    if spec.kind is CharacteristicKind.ATTRIBUTE:
        if entry.conforming is None or entry.value is not None or entry.unit is not None:
            raise Unprocessable(
                f"{bad} an attribute characteristic takes conforming (true/false) only", slug="invalid-result"
            )
        if entry.uncertainty is not None:
            raise Unprocessable(f"{bad} an attribute result has no uncertainty", slug="invalid-result")
        return entry, Evaluation.PASS if entry.conforming else Evaluation.FAIL
    if entry.value is None or entry.conforming is not None:
        raise Unprocessable(
            f"{bad} a numeric characteristic takes a value (and unit), not conforming", slug="invalid-result"
        )
    unit = entry.unit or spec.unit
    if unit != spec.unit:
        raise Unprocessable(
            f"{bad} measured in {unit} but the limits are in {spec.unit}", slug="unit-mismatch"
        )
    # v1 judges the value itself; the uncertainty is stored for v2 consumers and guard-banding later.
    within = (spec.min_value is None or entry.value >= spec.min_value) and (
        spec.max_value is None or entry.value <= spec.max_value
    )
    stored = Measurement(value=entry.value, unit=unit, uncertainty=entry.uncertainty)
    return stored, Evaluation.PASS if within else Evaluation.FAIL


def lot_result(evaluations: Iterable[Evaluation | None]) -> LotResult:
    """Any failed characteristic fails the lot; it passes once every one has passed."""
    seen = list(evaluations)
    if Evaluation.FAIL in seen:
        return LotResult.FAIL
    if seen and all(e is Evaluation.PASS for e in seen):
        return LotResult.PASS
    return LotResult.PENDING


def after_results(current: str, complete: bool) -> InspectionLotStatus:
    """Recording results is legal in inspection; the lot moves on only once every result is in."""
    target = INSPECTION_LOT.target(L(current), "record_results")
    return target if complete else L(current)


def decide(current: str, result: LotResult, disposition: Disposition) -> InspectionLotStatus:
    target = INSPECTION_LOT.target(L(current), "decide")
    if result is LotResult.FAIL and disposition is Disposition.RELEASE:
        # A failed lot goes free only as a concession (use_as_is), which says so on the record.
        raise DecisionContradictsResult(
            "the lot failed inspection, so it cannot be released; decide use_as_is for a concession",
            current_state=current,
            result=result,
        )
    return target


# --- nonconformance guards ------------------------------------------------------------------------
def nc_transition(
    current: str, action: str, *, action_plan: str | None, effectiveness_note: str | None
) -> NcStatus:
    target = NONCONFORMANCE.target(N(current), action)
    if target in (N.ACTION_PLANNED, N.IN_PROGRESS) and not action_plan:
        raise GuardFailed("nonconformance", current, action, "an action plan", slug="action-plan-required")
    if target == N.CLOSED and not effectiveness_note:
        raise GuardFailed(
            "nonconformance", current, action, "an effectiveness note", slug="effectiveness-note-required"
        )
    return target


# --- CAPA guards ---------------------------------------------------------------------------------------
def capa_transition(current: str, action: str, *, actions_done: list[bool]) -> CapaStatus:
    target = CAPA.target(C(current), action)
    # Checked on every step past implementation, not only on it: the actions may still be edited
    # after it (one added that is not done yet), and such a CAPA must not be verified or closed.
    if target in (C.IMPLEMENTED, C.VERIFIED, C.CLOSED):
        if not actions_done:
            raise GuardFailed("capa", current, action, "at least one action", slug="actions-required")
        if not all(actions_done):
            open_count = actions_done.count(False)
            raise GuardFailed(
                "capa", current, action, f"all actions done ({open_count} still open)", slug="actions-open"
            )
    return target


def unique(codes: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication of id lists (tags, linked records)."""
    return list(dict.fromkeys(codes))
