"""Shop-floor rules: the production order and equipment state machines, quantities. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contracts.kit.problems import Unprocessable
from contracts.kit.states import StateMachine
from contracts.models.mes import EquipmentState, ProductionOrderStatus

P = ProductionOrderStatus
PRODUCTION_ORDER = StateMachine(
    "production order",
    ProductionOrderStatus,
    {
        "release": ([P.PLANNED], P.RELEASED),
        "start": ([P.RELEASED], P.RUNNING),
        "hold": ([P.RUNNING], P.HELD),
        "resume": ([P.HELD], P.RUNNING),
        # A held order may be completed short, e.g. when its machine will not be back in time.
        "complete": ([P.RUNNING, P.HELD], P.COMPLETED),
        "close": ([P.COMPLETED], P.CLOSED),
        "cancel": ([P.PLANNED, P.RELEASED], P.CANCELLED),
    },
)
# Quantities are reported, material consumed and batches finished only while the order runs.
PRODUCING = frozenset({P.RUNNING})

E = EquipmentState
EQUIPMENT = StateMachine(
    "equipment",
    EquipmentState,
    {
        "run": ([E.IDLE, E.DOWN, E.DISCONNECTED], E.RUNNING),
        "idle": ([E.RUNNING, E.DOWN, E.DISCONNECTED], E.IDLE),
        "down": ([E.RUNNING, E.IDLE, E.DISCONNECTED], E.DOWN),
        "disconnect": ([E.RUNNING, E.IDLE, E.DOWN], E.DISCONNECTED),
    },
)
ACTION_TO = {E.RUNNING: "run", E.IDLE: "idle", E.DOWN: "down", E.DISCONNECTED: "disconnect"}


@dataclass(frozen=True, slots=True)
class DowntimeChange:
    opens: bool  # a new downtime period starts
    closes: bool  # the open period ends


def downtime_change(after: EquipmentState, open_period: bool) -> DowntimeChange:
    """A stop opens a downtime period; running or idling again closes it. Losing the connection
    changes neither: a machine that was down and reconnects down is still in the same stop."""
    if after == E.DOWN:
        return DowntimeChange(opens=not open_period, closes=False)
    if after in (E.RUNNING, E.IDLE):
        return DowntimeChange(opens=False, closes=open_period)
    return DowntimeChange(opens=False, closes=False)


@dataclass(frozen=True, slots=True)
class OperationQuantities:
    op_no: int
    good: float
    scrap: float


def check_operations(op_numbers: Sequence[int]) -> None:
    duplicates = sorted({n for n in op_numbers if op_numbers.count(n) > 1})
    if duplicates:
        raise Unprocessable(
            f"operation numbers must be unique; repeated: {duplicates}", slug="duplicate-operation"
        )


def check_confirmation(good: float, scrap: float) -> None:
    if good <= 0 and scrap <= 0:
        raise Unprocessable(
            "a confirmation reports a good or a scrap quantity above zero", slug="empty-confirmation"
        )


def order_totals(operations: Iterable[OperationQuantities]) -> tuple[float, float]:
    """Good is what left the last operation; scrap is lost at any operation."""
    ops = sorted(operations, key=lambda o: o.op_no)
    if not ops:
        return 0.0, 0.0
    return round(ops[-1].good, 3), round(sum(o.scrap for o in ops), 3)
