"""ERP tables. Only this service reads or writes them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.records import RecordMixin, UTCDateTime, child_rows


class Base(DeclarativeBase):
    pass


class ItemRow(RecordMixin, Base):
    __tablename__ = "items"
    description: Mapped[str] = mapped_column(String(200))
    item_type: Mapped[str] = mapped_column(String(20))
    base_uom: Mapped[str] = mapped_column(String(10))
    lot_tracked: Mapped[bool] = mapped_column(Boolean)
    inspection_required: Mapped[bool] = mapped_column(Boolean)
    reorder_point: Mapped[float | None] = mapped_column(Float, nullable=True)
    standard_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    price_currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")


class SupplierRow(RecordMixin, Base):
    __tablename__ = "suppliers"
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PurchaseOrderRow(RecordMixin, Base):
    __tablename__ = "purchase_orders"
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)
    lines: Mapped[list[PurchaseOrderLineRow]] = child_rows("PurchaseOrderLineRow.line_no")


class PurchaseOrderLineRow(Base):
    __tablename__ = "purchase_order_lines"
    po_id: Mapped[str] = mapped_column(ForeignKey("purchase_orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[float] = mapped_column(Float)
    received_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))


class LotRow(RecordMixin, Base):
    __tablename__ = "lots"
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    supplier_id: Mapped[str | None] = mapped_column(ForeignKey("suppliers.id"), nullable=True, index=True)
    supplier_lot: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    origin: Mapped[str] = mapped_column(String(20))
    balances: Mapped[list[StockRow]] = child_rows("(StockRow.location, StockRow.status)")


class StockRow(Base):
    """Quantity of one lot at one location in one stock status."""

    __tablename__ = "stock"
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    location: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    quantity: Mapped[float] = mapped_column(Float)


class GoodsReceiptRow(RecordMixin, Base):
    __tablename__ = "goods_receipts"
    source: Mapped[str] = mapped_column(String(20))
    po_id: Mapped[str | None] = mapped_column(ForeignKey("purchase_orders.id"), nullable=True, index=True)
    line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    production_order: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    supplier_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    location: Mapped[str] = mapped_column(String(40))
    stock_status: Mapped[str] = mapped_column(String(20))
    txn_id: Mapped[str] = mapped_column(String(64))


class InventoryTxnRow(RecordMixin, Base):
    __tablename__ = "inventory_transactions"
    __table_args__ = (UniqueConstraint("reverses", name="uq_inventory_transactions_reverses"),)
    type: Mapped[str] = mapped_column(String(20), index=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    location: Mapped[str] = mapped_column(String(40))
    to_location: Mapped[str | None] = mapped_column(String(40), nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    cost_centre: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reverses: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reversed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quality_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CostPostingRow(RecordMixin, Base):
    __tablename__ = "cost_postings"
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    cost_centre: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class PurchaseRequisitionRow(RecordMixin, Base):
    __tablename__ = "purchase_requisitions"
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    po_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The item id while the requisition is open, else NULL: the unique index lets the database
    # refuse a second open requisition for an item even when two requests race (NULLs never clash).
    open_item: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)


# --- holds and purchasing alerts: ours whichever system of record is behind the API ----------------
class PaymentHoldRow(RecordMixin, Base):
    """A lot's payment hold (id = the lot id): set by quality, released by quality."""

    __tablename__ = "payment_holds"
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    reason: Mapped[str] = mapped_column(Text)
    quality_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    released_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ReturnSettlementRow(RecordMixin, Base):
    """How a return to vendor was settled (id = the return transaction's id), once."""

    __tablename__ = "return_settlements"
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    receipt_id: Mapped[str] = mapped_column(String(64))
    po_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20))
    credit_note_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class QualityAlertRow(RecordMixin, Base):
    """A purchase order flagged by quality; one per order and failed lot."""

    __tablename__ = "purchase_order_alerts"
    __table_args__ = (UniqueConstraint("po_id", "lot_id", name="uq_purchase_order_alerts_po_lot"),)
    po_id: Mapped[str] = mapped_column(String(64), index=True)
    supplier_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    supplier_case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nc_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_po_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


# --- the embedded ERP's supplier invoices and deliveries -------------------------------------------
class SupplierInvoiceRow(RecordMixin, Base):
    __tablename__ = "supplier_invoices"
    kind: Mapped[str] = mapped_column(String(20))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    po_id: Mapped[str] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    supplier_ref: Mapped[str] = mapped_column(String(200))
    invoice_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    status: Mapped[str] = mapped_column(String(20), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lines: Mapped[list[SupplierInvoiceLineRow]] = child_rows("SupplierInvoiceLineRow.line_no")


class SupplierInvoiceLineRow(Base):
    __tablename__ = "supplier_invoice_lines"
    invoice_id: Mapped[str] = mapped_column(ForeignKey("supplier_invoices.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("goods_receipts.id"), index=True)
    lot_id: Mapped[str] = mapped_column(String(64), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))


class DeliveryRow(RecordMixin, Base):
    __tablename__ = "deliveries"
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


async def serialise(session: AsyncSession, name: str) -> None:
    """Commands on one named thing (a lot, a purchase order, one item's requisitions) run one at a
    time until their transaction ends, so two cannot both pass a check on what the system of record
    holds before either has written. On SQLite taking the service's one connection serialises them;
    PostgreSQL takes a transaction-scoped advisory lock. Here, below both backends and the shared
    rules (holds.py), so that both take the same lock by the same name."""
    if session.get_bind().dialect.name != "postgresql":
        await session.connection()
    else:
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("name", type_=Text), 0))),
            {"name": f"erp:{name}"},
        )
