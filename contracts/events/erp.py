"""Events the ERP system API publishes on `events.erp`."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from contracts.kit.envelope import event

STREAM = "events.erp"


@event("erp.goods_receipt.posted.v1", STREAM, "Goods were received into stock and a lot created.")
class GoodsReceiptPosted(msgspec.Struct, kw_only=True):
    receipt_id: str
    source: str
    item_id: str
    lot_id: str
    quantity: float
    location: str
    stock_status: str
    inspection_required: bool
    po_id: str | None = None
    line_no: int | None = None
    supplier_id: str | None = None
    production_order: str | None = None


class QualityReference(msgspec.Struct, kw_only=True):
    """The quality decision that allowed stock out of a hold."""

    kind: str  # usage_decision | nonconformance
    record_id: str
    disposition: str


@event("erp.stock.status_changed.v1", STREAM, "Stock of a lot at a location moved between statuses.")
class StockStatusChanged(msgspec.Struct, kw_only=True):
    lot_id: str
    item_id: str
    location: str
    from_status: str | None
    to_status: str | None
    quantity: float
    txn_id: str


@event("erp.inventory_txn.posted.v1", STREAM, "An inventory transaction was posted (any movement type).")
class InventoryTxnPosted(msgspec.Struct, kw_only=True):
    txn_id: str
    type: str
    lot_id: str
    item_id: str
    quantity: float
    location: str
    to_location: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    order_ref: str | None = None
    cost_centre: str | None = None
    reverses: str | None = None
    quality_ref: QualityReference | None = None


@event("erp.cost.posted.v1", STREAM, "A cost was posted to a cost centre or order.")
class CostPosted(msgspec.Struct, kw_only=True):
    posting_id: str
    amount: Decimal
    currency: str
    cost_centre: str
    kind: str
    order_ref: str | None = None


@event(
    "erp.purchase_requisition.created.v1",
    STREAM,
    "A purchase requisition was raised for an item (e.g. a spare under its reorder point).",
)
class PurchaseRequisitionCreated(msgspec.Struct, kw_only=True):
    requisition_id: str
    item_id: str
    quantity: float
    source_ref: str | None = None


@event(
    "erp.payment_hold.changed.v1",
    STREAM,
    "A lot's payment hold was set or released: its supplier invoices may not, or again may, be paid.",
)
class PaymentHoldChanged(msgspec.Struct, kw_only=True):
    lot_id: str
    active: bool
    reason: str
    invoice_ids: list[str]
    quality_ref: QualityReference | None = None


@event("erp.supplier_invoice.posted.v1", STREAM, "A supplier invoice or credit note was posted.")
class SupplierInvoicePosted(msgspec.Struct, kw_only=True):
    invoice_id: str
    kind: str
    supplier_id: str
    po_id: str
    total: Decimal
    currency: str
    lot_ids: list[str]
    payment_blocked: bool


@event("erp.supplier_invoice.paid.v1", STREAM, "A supplier invoice was paid.")
class SupplierInvoicePaid(msgspec.Struct, kw_only=True):
    invoice_id: str
    supplier_id: str
    total: Decimal
    currency: str
    payment_reference: str | None = None


@event("erp.delivery.posted.v1", STREAM, "Lots were shipped to a customer.")
class DeliveryPosted(msgspec.Struct, kw_only=True):
    delivery_id: str
    customer_id: str
    lot_ids: list[str]
    txn_ids: list[str]
    order_ref: str | None = None


@event(
    "erp.purchase_order.quality_alert.v1",
    STREAM,
    "An open purchase order was flagged: the supplier's material of this item failed quality.",
)
class PurchaseOrderQualityAlert(msgspec.Struct, kw_only=True):
    po_id: str
    alert_id: str
    supplier_id: str
    item_id: str
    lot_id: str
    supplier_case_id: str | None = None
