"""Rules on request values that a wire type cannot state, shared by the system API that keeps a
value and by every API that passes it on to it (a process API starting a flow, MES announcing a
batch), so a value the keeper would refuse is refused at the first door with the same 422, not
later in a flow that can only stall on it."""

from __future__ import annotations

from datetime import datetime

from contracts.kit.paging import body_instant, utcnow
from contracts.kit.problems import Unprocessable

QUANTITY_DECIMALS = 3  # stock records keep quantities to thousandths of the unit


def kept_quantity(quantity: float, field: str = "quantity") -> float:
    """`quantity` as stock records keep it (rounded to QUANTITY_DECIMALS places); one that rounds
    to nothing is a 422, since no record can hold it."""
    rounded = round(quantity, QUANTITY_DECIMALS)
    if rounded <= 0:
        raise Unprocessable(
            f"{field} {quantity} rounds to zero at {QUANTITY_DECIMALS} decimals", slug="invalid-quantity"
        )
    return rounded


def past_instant(moment: datetime | None, field: str) -> datetime | None:
    """An instant from a request body that has already happened (a failure, a stop): in UTC,
    within the years a plant record can have (`body_instant`) and not in the future."""
    instant = body_instant(moment, field)
    if instant is not None and instant > utcnow():
        raise Unprocessable(f"{field} lies in the future", slug="invalid-date-time")
    return instant


__all__ = ["QUANTITY_DECIMALS", "kept_quantity", "past_instant"]
