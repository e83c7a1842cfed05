"""ERP system API v1 (`/erp/v1`): the shapes on the wire."""

from __future__ import annotations

from datetime import datetime
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


class ReversalCreate(Input, kw_only=True):
    reason: Text | None = None


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
