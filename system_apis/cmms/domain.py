"""Maintenance rules: the state machines of assets, requests and work orders, and their guards.

No I/O here; the service applies what these functions decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import as_utc
from contracts.kit.problems import Conflict, Unprocessable
from contracts.kit.states import StateMachine
from contracts.models.cmms import (
    AssetStatus,
    PlannedPart,
    RequestStatus,
    WorkOrderStatus,
)

IN_SERVICE, DOWN, UNDER_MAINTENANCE, RETIRED = (
    AssetStatus.IN_SERVICE,
    AssetStatus.DOWN,
    AssetStatus.UNDER_MAINTENANCE,
    AssetStatus.RETIRED,
)
ASSET = StateMachine(
    "asset",
    AssetStatus,
    {
        "down": ([IN_SERVICE], DOWN),
        "start_maintenance": ([IN_SERVICE, DOWN], UNDER_MAINTENANCE),
        "restore": ([DOWN, UNDER_MAINTENANCE], IN_SERVICE),
        "retire": ([IN_SERVICE, DOWN, UNDER_MAINTENANCE], RETIRED),
    },
)
OUT_OF_SERVICE = frozenset({DOWN, UNDER_MAINTENANCE})
ASSET_EDITABLE = frozenset({IN_SERVICE, DOWN, UNDER_MAINTENANCE})

R = RequestStatus
REQUEST = StateMachine(
    "maintenance request",
    RequestStatus,
    {
        "accept": ([R.SUBMITTED], R.ACCEPTED),
        "reject": ([R.SUBMITTED], R.REJECTED),
        "start": ([R.ACCEPTED], R.IN_PROGRESS),
        "complete": ([R.IN_PROGRESS], R.COMPLETED),
        "cancel": ([R.SUBMITTED, R.ACCEPTED], R.CANCELLED),
    },
)
# A work order may be planned against a request only once someone accepted the request.
REQUEST_OPEN_FOR_WORK = frozenset({R.ACCEPTED, R.IN_PROGRESS})

W = WorkOrderStatus
WORK_ORDER = StateMachine(
    "work order",
    WorkOrderStatus,
    {
        "release": ([W.CREATED], W.RELEASED),
        "start": ([W.RELEASED], W.IN_PROGRESS),
        "hold": ([W.IN_PROGRESS], W.ON_HOLD),
        "resume": ([W.ON_HOLD], W.IN_PROGRESS),
        "complete": ([W.IN_PROGRESS, W.ON_HOLD], W.TECHNICALLY_COMPLETE),
        "close": ([W.TECHNICALLY_COMPLETE], W.CLOSED),
        "cancel": ([W.CREATED, W.RELEASED], W.CANCELLED),
    },
)
# Plans, parts and hours can change until the technician reports the work technically complete.
WORK_ORDER_OPEN = frozenset({W.CREATED, W.RELEASED, W.IN_PROGRESS, W.ON_HOLD})
WORK_ORDER_DONE = frozenset({W.TECHNICALLY_COMPLETE, W.CLOSED, W.CANCELLED})


class CostsNotPosted(Conflict):
    slug, title = "costs-not-posted", "Costs not posted"


class CostsAlreadyPosted(Conflict):
    slug, title = "costs-already-posted", "Costs already posted"


class WorkOrdersOpen(Conflict):
    slug, title = "work-orders-open", "Work orders still open"


# --- assets -------------------------------------------------------------------------------------
def opens_downtime(before: AssetStatus, after: AssetStatus) -> bool:
    """Downtime runs from leaving service until the asset is back (or retired)."""
    return before == IN_SERVICE and after in OUT_OF_SERVICE


def closes_downtime(before: AssetStatus, after: AssetStatus) -> bool:
    return before in OUT_OF_SERVICE and after not in OUT_OF_SERVICE


def minutes_between(start: datetime, end: datetime) -> int:
    return max(0, int((as_utc(end) - as_utc(start)).total_seconds() // 60))


# --- requests ------------------------------------------------------------------------------------
def request_follows_start(request: RequestStatus) -> str | None:
    """Starting work on an accepted request puts the request in progress."""
    return "start" if REQUEST.can(request, "start") else None


def request_follows_completion(request: RequestStatus, orders: Iterable[WorkOrderStatus]) -> str | None:
    """The request is complete once no work order against it is still open."""
    if REQUEST.can(request, "complete") and all(status in WORK_ORDER_DONE for status in orders):
        return "complete"
    return None


def check_no_open_work(request_id: str, action: str, open_orders: Sequence[str]) -> None:
    """A request is completed or cancelled by hand only when no work order against it is open:
    otherwise its work would go on (and be costed) under a request that says it is over."""
    if open_orders:
        raise WorkOrdersOpen(
            f"maintenance request {request_id} has open work orders ({', '.join(open_orders)}): "
            f"complete or cancel them first",
            action=action,
            work_orders=list(open_orders),
        )


# --- work orders ---------------------------------------------------------------------------------
# What a technical completion needs is contracts/models/cmms_completion.py: the technician API
# checks the same rule before it records an order's parts and labor.


def check_close(wo_id: str, status: WorkOrderStatus, costs_posted: bool) -> None:
    if not costs_posted:
        raise CostsNotPosted(
            f"work order {wo_id} is {status}; its costs must be posted before it is closed",
            current_state=status,
            action="close",
        )


def check_costs_not_posted(wo_id: str, costs_posted: bool) -> None:
    if costs_posted:
        raise CostsAlreadyPosted(f"costs of work order {wo_id} are already posted")


def labor_amount(hours: float, rate: Decimal) -> Decimal:
    return (Decimal(str(hours)) * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def part_list(parts: Iterable[PlannedPart]) -> list[dict[str, Any]]:
    """A spare-parts list as stored: one line per item (422 naming the item listed twice)."""
    seen: set[str] = set()
    lines = []
    for part in parts:
        if part.item_id in seen:
            raise Unprocessable(f"item {part.item_id} is listed twice", slug="duplicate-part")
        seen.add(part.item_id)
        lines.append({"item_id": part.item_id, "quantity": kept_quantity(part.quantity), "uom": part.uom})
    return lines
