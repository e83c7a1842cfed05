"""CMMS rules as pure functions: every state-machine edge and refusal, downtime, guards (the
completion's shared with the technician API), amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.kit.problems import Conflict, IllegalTransition, Unprocessable
from contracts.kit.states import StateMachine, require_state
from contracts.models import cmms_completion as completion
from contracts.models.cmms import (
    AssetStatus,
    MaintenanceType,
    RequestStatus,
    WorkOrderComplete,
    WorkOrderStatus,
)
from system_apis.cmms import domain

A, R, W = AssetStatus, RequestStatus, WorkOrderStatus

# The state machines as the issue and DESIGN.md §6 state them, written out independently of the code.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "asset": {
        (A.IN_SERVICE, "down", A.DOWN),
        (A.IN_SERVICE, "start_maintenance", A.UNDER_MAINTENANCE),
        (A.DOWN, "start_maintenance", A.UNDER_MAINTENANCE),
        (A.DOWN, "restore", A.IN_SERVICE),
        (A.UNDER_MAINTENANCE, "restore", A.IN_SERVICE),
        (A.IN_SERVICE, "retire", A.RETIRED),
        (A.DOWN, "retire", A.RETIRED),
        (A.UNDER_MAINTENANCE, "retire", A.RETIRED),
    },
    "maintenance request": {
        (R.SUBMITTED, "accept", R.ACCEPTED),
        (R.ACCEPTED, "start", R.IN_PROGRESS),
        (R.IN_PROGRESS, "complete", R.COMPLETED),
        (R.SUBMITTED, "reject", R.REJECTED),
        (R.SUBMITTED, "cancel", R.CANCELLED),
        (R.ACCEPTED, "cancel", R.CANCELLED),
    },
    "work order": {
        (W.CREATED, "release", W.RELEASED),
        (W.RELEASED, "start", W.IN_PROGRESS),
        (W.IN_PROGRESS, "hold", W.ON_HOLD),
        (W.ON_HOLD, "resume", W.IN_PROGRESS),
        (W.IN_PROGRESS, "complete", W.TECHNICALLY_COMPLETE),
        (W.ON_HOLD, "complete", W.TECHNICALLY_COMPLETE),
        (W.TECHNICALLY_COMPLETE, "close", W.CLOSED),
        (W.CREATED, "cancel", W.CANCELLED),
        (W.RELEASED, "cancel", W.CANCELLED),
    },
}
MACHINES: dict[str, StateMachine[Any]] = {
    "asset": domain.ASSET,
    "maintenance request": domain.REQUEST,
    "work order": domain.WORK_ORDER,
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


def test_terminal_states_allow_nothing() -> None:
    assert domain.ASSET.actions(A.RETIRED) == []
    assert [domain.REQUEST.actions(s) for s in (R.COMPLETED, R.REJECTED, R.CANCELLED)] == [[], [], []]
    assert [domain.WORK_ORDER.actions(s) for s in (W.CLOSED, W.CANCELLED)] == [[], []]


# --- downtime --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after", "opens", "closes"),
    [
        (A.IN_SERVICE, A.DOWN, True, False),
        (A.IN_SERVICE, A.UNDER_MAINTENANCE, True, False),
        (A.DOWN, A.UNDER_MAINTENANCE, False, False),  # the same stretch of downtime goes on
        (A.DOWN, A.IN_SERVICE, False, True),
        (A.UNDER_MAINTENANCE, A.IN_SERVICE, False, True),
        (A.DOWN, A.RETIRED, False, True),
        (A.IN_SERVICE, A.RETIRED, False, False),
    ],
)
def test_downtime_runs_from_leaving_service_until_back(
    before: AssetStatus, after: AssetStatus, opens: bool, closes: bool
) -> None:
    assert domain.opens_downtime(before, after) is opens
    assert domain.closes_downtime(before, after) is closes


def test_downtime_minutes_are_whole_minutes_and_never_negative() -> None:
    start = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)
    assert domain.minutes_between(start, start + timedelta(minutes=95, seconds=59)) == 95
    assert domain.minutes_between(start, start - timedelta(minutes=5)) == 0
    # SQLite hands back naive UTC; it still compares with an aware instant.
    assert domain.minutes_between(start.replace(tzinfo=None), start + timedelta(hours=1)) == 60


# --- requests follow their work orders ---------------------------------------------------------
def test_request_starts_with_its_first_work_and_completes_with_its_last() -> None:
    assert domain.request_follows_start(R.ACCEPTED) == "start"
    assert domain.request_follows_start(R.IN_PROGRESS) is None
    assert domain.request_follows_completion(R.IN_PROGRESS, [W.TECHNICALLY_COMPLETE, W.CLOSED]) == "complete"
    assert domain.request_follows_completion(R.IN_PROGRESS, [W.TECHNICALLY_COMPLETE, W.ON_HOLD]) is None
    assert domain.request_follows_completion(R.ACCEPTED, [W.TECHNICALLY_COMPLETE]) is None


# --- work order guards -------------------------------------------------------------------------
def test_corrective_completion_needs_cause_and_correction_codes() -> None:
    with pytest.raises(Unprocessable) as refused:
        completion.check_codes(MaintenanceType.CORRECTIVE, "SEAL-WEAR", None)
    assert refused.value.slug == "codes-required"
    assert refused.value.extensions["missing"] == ["correction_code"]
    completion.check_codes(MaintenanceType.CORRECTIVE, "SEAL-WEAR", "REPLACE")
    completion.check_codes(MaintenanceType.PREVENTIVE, None, None)
    completion.check_codes(MaintenanceType.CALIBRATION, None, None)


@dataclass
class Order:
    """A work order as the completion reads it (CMMS's row, or the order CMMS answers with)."""

    type: str = MaintenanceType.CORRECTIVE
    cause_code: str | None = None
    correction_code: str | None = None
    downtime_minutes: int | None = None
    failure_time: datetime | None = None
    actual_start: datetime | None = datetime(2030, 3, 4, 8, tzinfo=UTC)


def test_a_completion_takes_the_orders_codes_where_it_gives_none() -> None:
    now = datetime(2030, 3, 4, 9, tzinfo=UTC)
    coded = Order(cause_code="SEAL-WEAR", downtime_minutes=5)
    done = completion.completed(coded, WorkOrderComplete(correction_code="REPLACE"), now)
    assert (done.cause_code, done.correction_code, done.downtime_minutes) == ("SEAL-WEAR", "REPLACE", 5)
    assert done.actual_end == now
    # A caller checking ahead leaves the end to CMMS's clock.
    assert completion.completed(coded, WorkOrderComplete(correction_code="REPLACE")).actual_end is None
    with pytest.raises(Unprocessable) as refused:
        completion.completed(coded, WorkOrderComplete(), now)
    assert refused.value.extensions["missing"] == ["correction_code"]


def test_a_completion_may_not_end_before_the_work_started() -> None:
    start = datetime(2030, 3, 4, 8)  # SQLite hands back naive UTC

    def coded(actual_end: datetime | None = None, failure_time: datetime | None = None) -> WorkOrderComplete:
        return WorkOrderComplete(
            actual_end=actual_end,
            failure_time=failure_time,
            cause_code="SEAL-WEAR",
            correction_code="REPLACE",
        )

    year_1800 = datetime(1800, 1, 1, tzinfo=UTC)
    for refused_body in (
        coded(start - timedelta(minutes=1)),
        coded(year_1800),
        coded(failure_time=year_1800),
    ):
        with pytest.raises(Unprocessable) as refused:
            completion.completed(Order(actual_start=start), refused_body)
        assert refused.value.slug == "invalid-date-time"
    assert completion.completed(Order(actual_start=start), coded(start.replace(tzinfo=UTC)))


def test_closing_needs_posted_costs_and_costs_post_once() -> None:
    with pytest.raises(Conflict) as refused:
        domain.check_close("WO-1", W.TECHNICALLY_COMPLETE, costs_posted=False)
    assert (refused.value.slug, refused.value.extensions["current_state"]) == (
        "costs-not-posted",
        W.TECHNICALLY_COMPLETE,
    )
    domain.check_close("WO-1", W.TECHNICALLY_COMPLETE, costs_posted=True)
    with pytest.raises(Conflict, match="already posted"):
        domain.check_costs_not_posted("WO-1", costs_posted=True)


def test_lines_can_be_added_only_until_technically_complete() -> None:
    for state in W:
        if state in domain.WORK_ORDER_OPEN:
            require_state("work order", state, domain.WORK_ORDER_OPEN, "record labor")
        else:
            with pytest.raises(IllegalTransition):
                require_state("work order", state, domain.WORK_ORDER_OPEN, "record labor")


def test_labor_amount_is_rounded_to_cents() -> None:
    assert domain.labor_amount(2.5, Decimal("62.50")) == Decimal("156.25")
    assert domain.labor_amount(0.333, Decimal("10")) == Decimal("3.33")
    assert domain.labor_amount(0.1, Decimal("0.05")) == Decimal("0.01")  # half up, from 0.005
