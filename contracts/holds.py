"""What stock a quality decision allows: one rule for the reconciliation that repairs holds and
the monitors that report them, so both call the same lot out of order.

A lot's latest usage decision says where its stock belongs; a nonconformance on the lot explains
a difference only when its disposition allows the stock ERP shows (a lot marked rework and then
unblocked in ERP is out of order, whatever nonconformance it has).
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.models import qms

HOLDING = frozenset({"block", "rework"})  # the lot's stock belongs in BLOCKED
FREEING = frozenset({"release", "use_as_is"})  # the lot's stock may be used
FREES = frozenset({"use_as_is"})  # NC dispositions that let held stock go free (unblock)
HOLDS = frozenset({"rework"})  # NC dispositions that block released stock
BATCH_STATUS = {
    "release": "released",
    "use_as_is": "released",
    "block": "quarantined",
    "rework": "rework",
    "scrap": "scrapped",
    "return": "scrapped",  # gone from the plant either way
}


def free_stock_allowed(decision: str, nc_dispositions: Iterable[str | None]) -> bool:
    """May the lot have stock that is not BLOCKED?"""
    return decision not in HOLDING or bool(FREES & set(nc_dispositions))


def blocked_stock_allowed(decision: str, nc_dispositions: Iterable[str | None], open_nc: bool) -> bool:
    """May the lot have BLOCKED stock? An open nonconformance is a hold of its own."""
    return decision not in FREEING or open_nc or bool(HOLDS & set(nc_dispositions))


def effective_disposition(decision: str, nc_dispositions: Iterable[str | None]) -> str:
    """What quality last said about the lot: the latest NC disposition, else the decision
    (`nc_dispositions` oldest first)."""
    said = [d for d in nc_dispositions if d]
    return said[-1] if said else decision


def nonconformances(ncs: Iterable[qms.Nonconformance]) -> tuple[list[str | None], bool]:
    """The lot's NC dispositions, oldest change first, and whether any NC is still open."""
    ordered = sorted(ncs, key=lambda nc: nc.updated_at)
    said = [nc.disposition.value if nc.disposition else None for nc in ordered]
    ended = (qms.NcStatus.CLOSED, qms.NcStatus.CANCELLED)
    return said, any(nc.status not in ended for nc in ordered)
