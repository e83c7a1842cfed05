"""Pure translations between our ERP model and Tryton's records; no I/O.

| ours | Tryton |
|---|---|
| item (`item_id`) | `product.product` (code = item id) and its template |
| item type, inspection flag | product categories (TYPE_CATEGORIES, INSPECTION_CATEGORY) |
| supplier (`supplier_id`) | `party.party` (code = supplier id) |
| purchase order (`po_id`) | confirmed `purchase.purchase` (number = po id) |
| lot (`lot_id`) | `stock.lot` (number = lot id) |
| stock status at a location | the mapped Tryton location holding the quantity |
| goods receipt | an incoming `stock.move` of a done `stock.shipment.in` |
| production receipt | an output `stock.move` of a done `production` |
| release, block, unblock, transfer, scrap | a done `stock.shipment.internal` |
| return to vendor | a done `stock.shipment.in.return` |
| issue to an order | an input `stock.move` of a done `production` |
| delivery to a customer | a done `stock.shipment.out` (storage = output = the lot's location) |
| supplier invoice (`invoice_id`) | a posted `account.invoice` of type in (number = invoice id) |
| invoice line | an invoice line from the purchase line, linked to the receipt's move |
| payment block | `payment_blocked` on the invoice's lines to pay (`account_payment`) |
| credit note | a posted `account.invoice` of type in with negative quantities |
| cost posting | a posted `account.move` in the miscellaneous journal |
| quality alert on a purchase order | an `ir.note` on the purchase |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contracts.models import erp as m
from contracts.models.erp import ItemType, MovementType, StockStatus

QI, UNR, BLK = StockStatus.QUALITY_INSPECTION, StockStatus.UNRESTRICTED, StockStatus.BLOCKED

# Our item type and inspection flag live in Tryton as product categories a plant can see and edit.
TYPE_CATEGORIES: dict[ItemType, str] = {
    ItemType.RAW_MATERIAL: "Raw material",
    ItemType.SEMI_FINISHED: "Semi-finished",
    ItemType.FINISHED_GOOD: "Finished good",
    ItemType.SPARE_PART: "Spare part",
}
INSPECTION_CATEGORY = "Inspection on receipt"
CATEGORIES = (*TYPE_CATEGORIES.values(), INSPECTION_CATEGORY)
# Our unit codes and Tryton's unit symbols (Tryton ships these units); others match by symbol.
UNITS = {"EA": "u", "PC": "u", "KG": "kg", "G": "g", "T": "t", "M": "m", "MM": "mm", "L": "l", "H": "h"}
# Every location type on which lot-tracked goods need a lot, so Tryton itself refuses a move of
# such an item without one (a receipt at the dock, a move in the warehouse).
LOT_REQUIRED = ["supplier", "storage", "production", "customer", "lost_found"]
# Where a document started by the connector carries its operation key.
KEY_PREFIX = "plantbridge:"
# Accounting, as provision.py prepares it from Tryton's own Universal Chart of Accounts: products
# the connector creates carry the accounting category, supplier invoices post in the expense
# journal and are paid by the payment method, costs post in the miscellaneous journal from the
# expense account of their kind against accrued expenses.
ACCOUNTING_CATEGORY = "Plantbridge purchases"
PAYMENT_METHOD = "Plantbridge payments"
INVOICE_JOURNAL, COST_JOURNAL, CASH_JOURNAL = "EXP", "MISC", "CASH"
PAYABLE, RECEIVABLE, PURCHASE_EXPENSE, REVENUE, CASH, ACCRUED_COSTS = (
    "2.1.1",
    "1.2.1",
    "5.1.1",
    "4.1.1",
    "1.1.1",
    "2.2.1",
)
COST_ACCOUNTS: dict[m.CostKind, str] = {
    m.CostKind.MATERIAL: "5.1.1",
    m.CostKind.LABOR: "5.2.2",  # the chart's 5.1.2 (employee benefits) takes no postings
    m.CostKind.SERVICE: "5.1.3",
    m.CostKind.OTHER: "6.1.2",
}

Key = tuple[str, StockStatus]  # (our location, status)


@dataclass
class Places:
    """Our locations and stock statuses ↔ Tryton location ids, resolved once from the map."""

    ids: dict[Key, int] = field(default_factory=dict)
    keys: dict[int, Key] = field(default_factory=dict)
    warehouses: dict[str, int] = field(default_factory=dict)  # our location → its Tryton warehouse
    types: dict[int, str] = field(default_factory=dict)  # every Tryton location id → its type
    lost_found: int = 0
    supplier: int = 0
    customer: int = 0

    def location(self, place: str, status: StockStatus) -> int:
        return self.ids[(place, status)]

    def home(self) -> int:
        """The warehouse of the map's first location: purchases and reorder points are kept there."""
        return next(iter(self.warehouses.values()))

    def knows(self, place: str) -> bool:
        return (place, UNR) in self.ids

    def touching(self) -> list[Any]:
        """Tryton domain: moves from or to any mapped location."""
        mapped = list(self.keys)
        return ["OR", ("from_location", "in", mapped), ("to_location", "in", mapped)]


def tryton_key(operation: str) -> str:
    return f"{KEY_PREFIX}{operation}"


def version(stamp: datetime | None) -> int:
    """Tryton keeps no revision number; the last write, in microseconds, changes with every write."""
    moment = stamp or datetime(2000, 1, 1)
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000)


def utc(stamp: datetime | None) -> datetime:
    """Tryton stores naive UTC."""
    return (stamp or datetime(2000, 1, 1)).replace(tzinfo=UTC)


def latest(*stamps: datetime | None) -> datetime | None:
    """The last of the writes of the Tryton records one of ours is made of."""
    return max((stamp for stamp in stamps if stamp), default=None)


def unit_symbol(uom: str) -> str:
    return UNITS.get(uom.upper(), uom.lower())


def unit_code(symbol: str) -> str:
    reverse = {v: k for k, v in UNITS.items() if k != "PC"}
    return reverse.get(symbol, symbol.upper())


def item(
    product: dict[str, Any],
    categories: dict[int, str],
    currency: str,
    order_point: dict[str, Any] | None = None,
) -> m.Item:
    """`order_point`: the product's purchase order point at the home warehouse (its reorder point).
    The item changed when its product, the product's template (`template.`: name, categories) or
    its order point last did: its version and updated_at are the latest of their writes."""
    names = {categories.get(c, "") for c in product.get("categories", [])}
    kind = next((t for t, name in TYPE_CATEGORIES.items() if name in names), ItemType.RAW_MATERIAL)
    price = product.get("cost_price")
    parts = (product, product.get("template.") or {}, order_point or {})
    changed = latest(*(part.get("write_date") or part.get("create_date") for part in parts))
    return m.Item(
        item_id=product["code"],
        description=product["name"],
        item_type=kind,
        base_uom=unit_code(product["default_uom."]["symbol"]),
        lot_tracked=bool(product.get("lot_required")),
        inspection_required=INSPECTION_CATEGORY in names,
        reorder_point=float(order_point["min_quantity"]) if order_point else None,
        standard_price=Decimal(price).quantize(Decimal("0.0001")) if price else None,
        price_currency=currency,
        version=version(changed),
        created_at=utc(product.get("create_date")),
        updated_at=utc(changed),
    )


def supplier(
    party: dict[str, Any], address: dict[str, Any] | None, email: dict[str, Any] | None
) -> m.Supplier:
    """The supplier is the party, its address (country) and its email contact mechanism, each a
    record of its own in Tryton: it changed when the last of them did."""
    parts = (party, address or {}, email or {})
    changed = latest(*(part.get("write_date") or part.get("create_date") for part in parts))
    return m.Supplier(
        supplier_id=party["code"],
        name=party["name"],
        country=((address or {}).get("country.") or {}).get("code"),
        email=(email or {}).get("value"),
        version=version(changed),
        created_at=utc(party.get("create_date")),
        updated_at=utc(changed),
    )


PO_STATUS = {
    "cancelled": m.PurchaseOrderStatus.CANCELLED,
    "done": m.PurchaseOrderStatus.RECEIVED,
}
SHIPMENT_STATUS = {
    "received": m.PurchaseOrderStatus.RECEIVED,
    "partially shipped": m.PurchaseOrderStatus.PARTIALLY_RECEIVED,
}


def purchase_status(
    state: str, shipment_state: str, move_states: list[set[str]] | None = None
) -> m.PurchaseOrderStatus:
    """`move_states`: per line, the states of its stock moves. A purchase whose every planned
    move was cancelled (and the exception ignored) receives nothing any more: ours is cancelled,
    though Tryton keeps it processing for its invoicing."""
    if move_states and all(states == {"cancelled"} for states in move_states):
        return m.PurchaseOrderStatus.CANCELLED
    return PO_STATUS.get(state) or SHIPMENT_STATUS.get(shipment_state, m.PurchaseOrderStatus.OPEN)


def movement_type(source: Key | None, target: Key | None, target_type: str) -> MovementType | None:
    """What a done move between these places is in our words (None: not a stock movement of ours)."""
    if source is None:
        return MovementType.RECEIPT if target is not None else None
    if target is None:
        return {
            "lost_found": MovementType.SCRAP,
            "supplier": MovementType.RETURN_TO_VENDOR,
            "production": MovementType.ISSUE,
            "customer": MovementType.DELIVERY,
        }.get(target_type)
    (from_place, from_status), (to_place, to_status) = source, target
    if from_status == to_status:
        return MovementType.TRANSFER if from_place != to_place else None
    if to_status is BLK:
        return MovementType.BLOCK
    if (from_status, to_status) == (QI, UNR):
        return MovementType.RELEASE
    if (from_status, to_status) == (BLK, UNR):
        return MovementType.UNBLOCK
    return MovementType.TRANSFER  # e.g. back into inspection: keep the statuses it names


def balances(moves: list[dict[str, Any]], places: Places) -> dict[Key, float]:
    """A lot's quantity per (location, status), from its done moves."""
    totals: dict[Key, float] = {}
    for move in moves:
        if move["state"] != "done":
            continue
        quantity = float(move["internal_quantity"])
        for location, sign in ((move["from_location"], -1), (move["to_location"], 1)):
            key = places.keys.get(location)
            if key is not None:
                totals[key] = round(totals.get(key, 0.0) + sign * quantity, 3)
    return totals
