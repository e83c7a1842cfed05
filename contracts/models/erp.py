"""ERP system API v1 (`/erp/v1`): the shapes on the wire."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from contracts.models.common import (
    CountryCode,
    Currency,
    Id,
    Input,
    LineNo,
    Location,
    Money,
    Name,
    NonNegative,
    Output,
    Quantity,
    Text,
    Uom,
)


class ItemType(StrEnum):
    RAW_MATERIAL = "raw_material"
    SEMI_FINISHED = "semi_finished"
    FINISHED_GOOD = "finished_good"
    SPARE_PART = "spare_part"


class StockStatus(StrEnum):
    UNRESTRICTED = "UNRESTRICTED"
    QUALITY_INSPECTION = "QUALITY_INSPECTION"
    BLOCKED = "BLOCKED"


class MovementType(StrEnum):
    RECEIPT = "receipt"
    RELEASE = "release"
    BLOCK = "block"
    UNBLOCK = "unblock"
    SCRAP = "scrap"
    RETURN_TO_VENDOR = "return_to_vendor"
    ISSUE = "issue"
    TRANSFER = "transfer"
    REVERSAL = "reversal"
    DELIVERY = "delivery"  # out to a customer (posted by a delivery, not as a movement)


class StockMovement(StrEnum):
    """Movements a client posts directly (receipts and reversals have their own endpoints)."""

    RELEASE = "release"
    BLOCK = "block"
    UNBLOCK = "unblock"
    SCRAP = "scrap"
    RETURN_TO_VENDOR = "return_to_vendor"
    ISSUE = "issue"
    TRANSFER = "transfer"


class PurchaseOrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class RequisitionStatus(StrEnum):
    OPEN = "open"
    ORDERED = "ordered"
    CANCELLED = "cancelled"


class QualityRecord(StrEnum):
    USAGE_DECISION = "usage_decision"  # record_id: the inspection lot decided
    NONCONFORMANCE = "nonconformance"  # record_id: the nonconformance disposed


class QualityDisposition(StrEnum):
    """The dispositions of QMS's usage decisions and nonconformances."""

    RELEASE = "release"
    USE_AS_IS = "use_as_is"
    BLOCK = "block"
    REWORK = "rework"
    SCRAP = "scrap"
    RETURN = "return"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    OPEN = "open"  # posted, to be paid
    PAID = "paid"


class ReturnOutcome(StrEnum):
    CREDIT_NOTE = "credit_note"  # the receipt was invoiced: a credit note for the returned quantity
    INVOICE_REDUCED = "invoice_reduced"  # not invoiced yet: its invoice may bill only what was kept


class CostKind(StrEnum):
    LABOR = "labor"
    MATERIAL = "material"
    SERVICE = "service"
    OTHER = "other"


# --- items ---------------------------------------------------------------------------------
class ItemCreate(Input, kw_only=True):
    item_id: Id
    description: Name
    item_type: ItemType = ItemType.RAW_MATERIAL
    base_uom: Uom = "EA"
    lot_tracked: bool = True
    inspection_required: bool = False
    reorder_point: NonNegative | None = None
    # Valuation of an issue (e.g. spare parts into a maintenance order), per base unit.
    standard_price: Money | None = None
    price_currency: Currency = "EUR"


class ItemUpdate(Input, kw_only=True):
    description: Name | None = None
    inspection_required: bool | None = None
    reorder_point: NonNegative | None = None
    standard_price: Money | None = None


class Item(Output, kw_only=True):
    item_id: str
    description: str
    item_type: ItemType
    base_uom: str
    lot_tracked: bool
    inspection_required: bool
    reorder_point: float | None
    standard_price: Decimal | None
    price_currency: str
    version: int
    created_at: datetime
    updated_at: datetime


class ItemStock(Output, kw_only=True):
    """An item's stock over all its lots and locations, per status, against its reorder point."""

    item_id: str
    base_uom: str
    unrestricted: float
    quality_inspection: float
    blocked: float
    reorder_point: float | None
    below_reorder_point: bool


# --- suppliers -----------------------------------------------------------------------------
class SupplierCreate(Input, kw_only=True):
    supplier_id: Id
    name: Name
    country: CountryCode | None = None
    email: Name | None = None


class Supplier(Output, kw_only=True):
    supplier_id: str
    name: str
    country: str | None
    email: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- purchase orders -------------------------------------------------------------------------
class PurchaseOrderLineCreate(Input, kw_only=True):
    item_id: Id
    quantity: Quantity
    unit_price: Money | None = None
    currency: Currency = "EUR"


class PurchaseOrderCreate(Input, kw_only=True):
    supplier_id: Id
    lines: Annotated[list[PurchaseOrderLineCreate], msgspec.Meta(min_length=1, max_length=200)]
    reference: Text | None = None


class PurchaseOrderLine(Output, kw_only=True):
    line_no: int
    item_id: str
    quantity: float
    received_quantity: float
    unit_price: Decimal | None
    currency: str


class PurchaseOrder(Output, kw_only=True):
    po_id: str
    supplier_id: str
    status: PurchaseOrderStatus
    reference: str | None
    lines: list[PurchaseOrderLine]
    version: int
    created_at: datetime
    updated_at: datetime
    quality_alerts: list[QualityAlert] = msgspec.field(default_factory=list)


# --- receipts and lots ------------------------------------------------------------------------
class GoodsReceiptCreate(Input, kw_only=True):
    po_id: Id
    line_no: LineNo = 1
    quantity: Quantity
    location: Location
    supplier_lot: Name | None = None
    lot_id: Id | None = None


class ProductionReceiptCreate(Input, kw_only=True):
    production_order: Id
    item_id: Id
    quantity: Quantity
    location: Location
    lot_id: Id | None = None
    stock_status: StockStatus | None = None


class GoodsReceipt(Output, kw_only=True):
    receipt_id: str
    source: str
    po_id: str | None
    line_no: int | None
    production_order: str | None
    item_id: str
    supplier_id: str | None
    lot_id: str
    quantity: float
    location: str
    stock_status: StockStatus
    txn_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class Balance(Output, kw_only=True):
    location: str
    status: StockStatus
    quantity: float


class Lot(Output, kw_only=True):
    lot_id: str
    item_id: str
    supplier_id: str | None
    supplier_lot: str | None
    origin: str
    quantity: float
    balances: list[Balance]
    version: int
    created_at: datetime
    updated_at: datetime


# --- quality references ---------------------------------------------------------------------
class QualityRef(Input, kw_only=True):
    """The quality decision that lets stock out of a hold: a usage decision on an inspection lot,
    or a nonconformance's disposition."""

    kind: QualityRecord
    record_id: Id
    disposition: QualityDisposition


# --- inventory transactions ---------------------------------------------------------------------
class InventoryTransactionCreate(Input, kw_only=True):
    type: StockMovement
    lot_id: Id
    quantity: Quantity
    location: Location
    from_status: StockStatus | None = None
    to_location: Location | None = None
    order_ref: Id | None = None
    cost_centre: Id | None = None
    reason: Text | None = None
    # Out of BLOCKED or QUALITY_INSPECTION: the decision that allows it (and the erp:release scope).
    quality_ref: QualityRef | None = None


class ReversalCreate(Input, kw_only=True):
    reason: Text | None = None
    quality_ref: QualityRef | None = None  # when the reversal takes stock out of a hold


class InventoryTransaction(Output, kw_only=True):
    txn_id: str
    type: MovementType
    lot_id: str
    item_id: str
    quantity: float
    location: str
    to_location: str | None
    from_status: StockStatus | None
    to_status: StockStatus | None
    order_ref: str | None
    cost_centre: str | None
    reason: str | None
    reverses: str | None
    reversed_by: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    quality_ref: QualityRef | None = None


# --- holds: payment and shipping ----------------------------------------------------------------
class PaymentHoldCreate(Input, kw_only=True):
    reason: Text
    quality_ref: QualityRef | None = None


class PaymentHoldRelease(Input, kw_only=True):
    quality_ref: QualityRef
    note: Text | None = None


class PaymentHold(Output, kw_only=True):
    """A lot's payment hold: while active, no supplier invoice of the lot's receipts may be paid."""

    lot_id: str
    active: bool
    reason: str
    quality_ref: QualityRef | None
    released_by: QualityRef | None
    blocked_invoices: list[str]  # the invoices it blocks now
    version: int
    created_at: datetime
    updated_at: datetime


class HoldReason(StrEnum):
    BLOCKED = "blocked"
    QUALITY_INSPECTION = "quality_inspection"
    NO_STOCK = "no_unrestricted_stock"


class ShippingHold(Output, kw_only=True):
    reason: HoldReason
    detail: str
    location: str | None = None
    quantity: float | None = None


class LotEligibility(Output, kw_only=True):
    """Whether a lot may ship, and why not; whether its invoices may be paid."""

    lot_id: str
    item_id: str
    eligible_to_ship: bool
    shippable_quantity: float
    reasons: list[ShippingHold]
    payment_hold: PaymentHold | None


# --- supplier invoices ---------------------------------------------------------------------------
class SupplierInvoiceLineCreate(Input, kw_only=True):
    receipt_id: Id
    quantity: Quantity | None = None  # default: what of the receipt is still to invoice
    unit_price: Money | None = None  # default: the purchase order line's price


class SupplierInvoiceCreate(Input, kw_only=True):
    """A supplier's invoice against one purchase order, line by line against its goods receipts."""

    po_id: Id
    supplier_ref: Name  # the supplier's own invoice number
    lines: Annotated[list[SupplierInvoiceLineCreate], msgspec.Meta(min_length=1, max_length=200)]
    invoice_date: date | None = None


class SupplierInvoiceLine(Output, kw_only=True):
    line_no: int
    receipt_id: str
    lot_id: str
    item_id: str
    quantity: float  # negative on a credit note
    unit_price: Decimal
    amount: Decimal


class PaymentBlock(Output, kw_only=True):
    blocked: bool
    lots: list[str]  # the lots whose payment holds block it


class SupplierInvoice(Output, kw_only=True):
    invoice_id: str
    kind: InvoiceKind
    supplier_id: str
    po_id: str
    supplier_ref: str
    invoice_date: date
    currency: str
    lines: list[SupplierInvoiceLine]
    total: Decimal
    status: InvoiceStatus
    payment_block: PaymentBlock
    paid_at: datetime | None
    payment_reference: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class InvoicePayment(Input, kw_only=True):
    reference: Name | None = None  # e.g. the bank transfer's reference
    paid_on: date | None = None


class ReturnSettlementCreate(Input, kw_only=True):
    """Settle a return to vendor with the supplier (`txn_id`: the return_to_vendor transaction)."""

    txn_id: Id
    reason: Text | None = None


class ReturnSettlement(Output, kw_only=True):
    txn_id: str
    lot_id: str
    receipt_id: str
    po_id: str
    quantity: float
    outcome: ReturnOutcome
    credit_note_id: str | None
    created_at: datetime


# --- deliveries ----------------------------------------------------------------------------------
class DeliveryLineCreate(Input, kw_only=True):
    lot_id: Id
    quantity: Quantity
    location: Location


class DeliveryCreate(Input, kw_only=True):
    """An outbound shipment of lots to a customer; held lots are refused (409 lot-on-hold)."""

    customer_id: Id
    lines: Annotated[list[DeliveryLineCreate], msgspec.Meta(min_length=1, max_length=200)]
    order_ref: Id | None = None  # the sales order


class DeliveryLine(Output, kw_only=True):
    line_no: int
    lot_id: str
    item_id: str
    quantity: float
    location: str
    txn_id: str


class Delivery(Output, kw_only=True):
    delivery_id: str
    customer_id: str
    order_ref: str | None
    lines: list[DeliveryLine]
    version: int
    created_at: datetime
    updated_at: datetime


# --- purchasing: quality alerts on purchase orders ------------------------------------------------
class QualityAlertCreate(Input, kw_only=True):
    """Purchasing is told: an open order of this supplier's item may bring more of what failed."""

    item_id: Id
    lot_id: Id
    reason: Text
    supplier_case_id: Id | None = None
    nc_id: Id | None = None
    source_po_id: Id | None = None  # the order the failed lot came on


class QualityAlert(Output, kw_only=True):
    alert_id: str
    item_id: str
    lot_id: str
    reason: str
    supplier_case_id: str | None
    nc_id: str | None
    source_po_id: str | None
    raised_at: datetime


# --- costs -----------------------------------------------------------------------------------
class CostPostingCreate(Input, kw_only=True):
    amount: Money
    currency: Currency
    cost_centre: Id
    kind: CostKind = CostKind.OTHER
    order_ref: Id | None = None
    description: Text | None = None


class CostPosting(Output, kw_only=True):
    posting_id: str
    amount: Decimal
    currency: str
    cost_centre: str
    kind: CostKind
    order_ref: str | None
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- purchase requisitions --------------------------------------------------------------------------
class PurchaseRequisitionCreate(Input, kw_only=True):
    """A request to buy an item; an item has at most one open requisition (409 requisition-open)."""

    item_id: Id
    quantity: Quantity
    reason: Text | None = None
    requested_by: Name | None = None
    source_ref: Id | None = None  # what raised it, e.g. a maintenance order


class RequisitionOrdered(Input, kw_only=True):
    po_id: Id | None = None


class RequisitionCancel(Input, kw_only=True):
    reason: Text | None = None


class PurchaseRequisition(Output, kw_only=True):
    requisition_id: str
    item_id: str
    quantity: float
    status: RequisitionStatus
    reason: str | None
    requested_by: str | None
    source_ref: str | None
    po_id: str | None
    allowed_actions: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
