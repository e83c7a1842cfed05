"""Stock movement rules: pure functions over a lot's balances, no I/O.

A lot's stock is a set of balances keyed by (location, status). A movement takes quantity
out of one status at one location and puts it into another status, another location, or
out of stock altogether. Which movements are legal, and from which statuses, is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.kit.inputs import QUANTITY_DECIMALS, kept_quantity
from contracts.kit.problems import Conflict, Unprocessable
from contracts.models.erp import MovementType, QualityDisposition, StockStatus

QI, UNR, BLK = StockStatus.QUALITY_INSPECTION, StockStatus.UNRESTRICTED, StockStatus.BLOCKED
PRECISION = QUANTITY_DECIMALS  # quantities are kept to thousandths of the base unit


@dataclass(frozen=True, slots=True)
class Rule:
    allowed_from: frozenset[StockStatus]
    default_from: StockStatus
    to_status: StockStatus | None  # None: the stock leaves (scrap, return, issue)
    keeps_status: bool = False  # transfer: same status, other location


RULES: dict[MovementType, Rule] = {
    MovementType.RELEASE: Rule(frozenset({QI}), QI, UNR),
    MovementType.BLOCK: Rule(frozenset({QI, UNR}), QI, BLK),
    MovementType.UNBLOCK: Rule(frozenset({BLK}), BLK, UNR),
    MovementType.SCRAP: Rule(frozenset({QI, UNR, BLK}), BLK, None),
    MovementType.RETURN_TO_VENDOR: Rule(frozenset({QI, UNR, BLK}), BLK, None),
    MovementType.ISSUE: Rule(frozenset({UNR}), UNR, None),
    MovementType.TRANSFER: Rule(frozenset({QI, UNR, BLK}), UNR, None, keeps_status=True),
    MovementType.DELIVERY: Rule(frozenset({UNR}), UNR, None),
}
HELD = frozenset({QI, BLK})
D = QualityDisposition
# Which quality dispositions allow stock out of a hold, by the movement that takes it out.
RELEASED_BY: dict[MovementType, frozenset[QualityDisposition]] = {
    MovementType.RELEASE: frozenset({D.RELEASE, D.USE_AS_IS}),
    MovementType.UNBLOCK: frozenset({D.RELEASE, D.USE_AS_IS}),
    MovementType.REVERSAL: frozenset({D.RELEASE, D.USE_AS_IS}),
    MovementType.SCRAP: frozenset({D.SCRAP}),
    MovementType.RETURN_TO_VENDOR: frozenset({D.RETURN}),
}

Key = tuple[str, StockStatus]


@dataclass(frozen=True, slots=True)
class Delta:
    location: str
    status: StockStatus
    quantity: float  # signed


@dataclass(frozen=True, slots=True)
class Movement:
    type: MovementType
    location: str
    quantity: float
    from_status: StockStatus | None
    to_status: StockStatus | None
    to_location: str | None
    deltas: tuple[Delta, ...]


class LotOnHold(Conflict):
    slug, title = "lot-on-hold", "Lot is on hold"


class InsufficientStock(Conflict):
    slug, title = "insufficient-stock", "Not enough stock"


class OverInvoiced(Conflict):
    slug, title = "over-invoiced", "More than was received and kept"


class IllegalMovement(Conflict):
    slug, title = "illegal-movement", "Movement not allowed from this stock status"


def leaves_hold(from_status: StockStatus | None, to_status: StockStatus | None) -> bool:
    """Stock out of BLOCKED or QUALITY_INSPECTION into neither (unrestricted, or out of stock): a
    release in the quality sense, whoever posts it. Between the two (a block, or a block reversed
    back into inspection) the stock stays held."""
    return from_status in HELD and to_status not in HELD


def requested_statuses(
    type_: MovementType, from_status: StockStatus | None
) -> tuple[StockStatus | None, StockStatus | None]:
    """The statuses a movement request takes stock from and to, before balances are read (a block
    defaults by balances, but every block ends in BLOCKED, so its source does not matter here)."""
    rule = RULES.get(type_)
    if rule is None:
        return from_status, None
    source = from_status or rule.default_from
    return source, source if rule.keeps_status else rule.to_status


def receipt_status(inspection_required: bool) -> StockStatus:
    """Inspection-relevant material lands in quality inspection; everything else is free."""
    return QI if inspection_required else UNR


def plan_movement(
    balances: dict[Key, float],
    type_: MovementType,
    *,
    location: str,
    quantity: float,
    from_status: StockStatus | None = None,
    to_location: str | None = None,
    order_ref: str | None = None,
) -> Movement:
    """Decide a movement against current balances, or raise the problem that forbids it."""
    rule = RULES.get(type_)
    if rule is None:
        raise Unprocessable(
            f"{type_} is posted by its own endpoint, not as a movement", slug="invalid-movement"
        )
    quantity = kept_quantity(quantity)
    if type_ is MovementType.ISSUE and not order_ref:
        raise Unprocessable("an issue needs the order_ref of the order it goes to", slug="order-required")
    if type_ is MovementType.TRANSFER and (not to_location or to_location == location):
        raise Unprocessable("a transfer needs a to_location other than location", slug="location-required")
    source = from_status or _default_from(balances, type_, rule, location)
    if source not in rule.allowed_from:
        raise IllegalMovement(
            f"{type_} is not allowed from {source} (allowed: {', '.join(sorted(rule.allowed_from))})",
            current_state=source,
        )
    available = balances.get((location, source), 0.0)
    if available + 1e-9 < quantity:
        held = {
            status: qty
            for (loc, status), qty in balances.items()
            if loc == location and status in HELD and qty > 0
        }
        if type_ in (MovementType.ISSUE, MovementType.DELIVERY) and held:
            raise LotOnHold(
                f"only {available:g} unrestricted at {location}; "
                + ", ".join(f"{qty:g} {status}" for status, qty in sorted(held.items()))
                + f" cannot be {'shipped' if type_ is MovementType.DELIVERY else 'issued'}",
                held=dict(held),
            )
        raise InsufficientStock(
            f"{quantity:g} requested but {available:g} {source} at {location}", available=available
        )
    target_status = source if rule.keeps_status else rule.to_status
    deltas = [Delta(location, source, -quantity)]
    if rule.keeps_status:
        assert to_location is not None
        deltas.append(Delta(to_location, source, quantity))
    elif target_status is not None:
        deltas.append(Delta(location, target_status, quantity))
    return Movement(
        type=type_,
        location=location,
        quantity=quantity,
        from_status=source,
        to_status=target_status,
        to_location=to_location if rule.keeps_status else None,
        deltas=tuple(deltas),
    )


def check_reversible(movement: MovementType) -> None:
    """A receipt is undone by a return to the vendor, and a reversal is not reversed again."""
    if movement in (MovementType.REVERSAL, MovementType.RECEIPT):
        raise IllegalMovement(
            f"a {movement} cannot be reversed"
            + (": return the goods to the vendor instead" if movement is MovementType.RECEIPT else ""),
            current_state=movement,
        )


def plan_reversal(balances: dict[Key, float], original: Movement) -> Movement:
    """A reversal is a new movement with every delta negated; it must not drive stock negative."""
    check_reversible(original.type)
    inverse = tuple(Delta(d.location, d.status, -d.quantity) for d in original.deltas)
    for d in inverse:
        left = balances.get((d.location, d.status), 0.0)
        if d.quantity < 0 and left + 1e-9 < -d.quantity:
            raise InsufficientStock(
                f"cannot reverse: only {left:g} {d.status} left at {d.location}", available=left
            )
    return Movement(
        type=MovementType.REVERSAL,
        location=original.location,
        quantity=original.quantity,
        from_status=original.to_status,
        to_status=original.from_status,
        to_location=original.to_location,
        deltas=inverse,
    )


def apply(balances: dict[Key, float], deltas: tuple[Delta, ...]) -> dict[Key, float]:
    result = dict(balances)
    for d in deltas:
        result[(d.location, d.status)] = round(
            result.get((d.location, d.status), 0.0) + d.quantity, PRECISION
        )
    return result


def _default_from(balances: dict[Key, float], type_: MovementType, rule: Rule, location: str) -> StockStatus:
    if type_ is MovementType.BLOCK and balances.get((location, QI), 0.0) <= 0:
        return UNR  # "block this lot" of stock already released
    return rule.default_from


def recorded_movement(
    type_: MovementType,
    *,
    location: str,
    quantity: float,
    from_status: StockStatus | None,
    to_status: StockStatus | None,
    to_location: str | None,
) -> Movement:
    """Rebuild the deltas of a posted transaction from what was stored about it."""
    deltas: list[Delta] = []
    if from_status is not None:
        deltas.append(Delta(location, from_status, -quantity))
    if to_status is not None:
        deltas.append(Delta(to_location or location, to_status, quantity))
    return Movement(type_, location, quantity, from_status, to_status, to_location, tuple(deltas))


# --- invoicing against receipts (three-way match: order, receipt, invoice) -----------------------
CENT = Decimal("0.01")
# Amounts are stored as NUMERIC(18, 4): fourteen digits before the point.
AMOUNT_LIMIT = Decimal(10) ** 14


def line_amount(quantity: float, price: Decimal) -> Decimal:
    return (Decimal(str(quantity)) * price).quantize(CENT)


def invoice_total(amounts: list[Decimal]) -> Decimal:
    """The sum of an invoice's line amounts. Price and quantity are each bounded on the wire,
    their product is not: a line or total no record can hold is a 422, never a database error
    (and the same on every system of record)."""
    total = sum(amounts, Decimal(0))
    named = [(f"line {n}'s amount", amount) for n, amount in enumerate(amounts, start=1)]
    for what, amount in [*named, ("the total", total)]:
        if abs(amount) >= AMOUNT_LIMIT:
            raise Unprocessable(
                f"{what} {amount:f} is beyond the largest amount a record holds (below {AMOUNT_LIMIT:,})",
                slug="amount-too-large",
            )
    return total


def invoiceable(received: float, returned: float, net_invoiced: float) -> float:
    """What of a receipt may still be invoiced: what was kept, less what was billed net of credits."""
    return max(0.0, round(received - returned - net_invoiced, PRECISION))


def to_credit(received: float, returned: float, net_invoiced: float, quantity: float) -> float:
    """How much of a return to credit: what was billed beyond what was kept, at most the return."""
    over_billed = round(net_invoiced - (received - returned), PRECISION)
    return max(0.0, min(quantity, over_billed))
