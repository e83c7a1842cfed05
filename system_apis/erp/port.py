"""The seam between the ERP API and the system of record behind it.

Routes call one method of `ErpBackend` per use case; `backends/embedded.py` keeps the records in
this service's own tables, `backends/tryton/` in a Tryton server. Both run inside the request's
transaction on this service's own database, which holds what is ours whatever the backend:
Idempotency-Key answers, the outbox, the audit trail, id bindings and the poll watermark.

Every write takes an `Operation`: a key that is the same for every retry of one request (it is
derived from the caller and its Idempotency-Key). A backend in front of a system that has no
idempotency of its own writes it into the document it creates and looks for it before creating
again, so a retry after a timeout or a crash finishes the first attempt instead of repeating it.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.app import Runtime
from contracts.kit.observability import ReadinessCheck
from contracts.kit.paging import Page, PageQuery
from contracts.kit.problems import Problem
from contracts.kit.unit_of_work import principal_id
from contracts.models import erp as m


class Operation(str):
    """A command's key, stable across retries of one request (32 hex characters)."""


def provide_operation(request: Request[Any, Any, Any]) -> Operation:
    key = request.headers.get("idempotency-key", "").strip().strip('"')
    if not key:
        return Operation(uuid.uuid4().hex)  # no key: the caller does not retry this request
    digest = hashlib.sha256(f"{principal_id(cast(Any, request.scope))}\n{key}".encode()).hexdigest()
    return Operation(digest[:32])


class NotSupported(Problem):
    """The system of record behind this API cannot do this (a stable type per capability)."""

    status, slug, title = 501, "not-supported-by-erp", "Not supported by this ERP"


class ErpBackend(ABC):
    """One method per ERP use case, each backend a subclass. `lifespan` runs what a backend
    needs beside requests (Tryton's change poller); the embedded backend needs nothing."""

    name: str

    @abstractmethod
    def lifespan(self, runtime: Runtime) -> AbstractAsyncContextManager[None]: ...

    def readiness(self) -> dict[str, ReadinessCheck]:
        """Checks `/health/ready` runs beside the database and Redis: the system of record."""
        return {}

    # items and suppliers
    @abstractmethod
    async def create_item(self, session: AsyncSession, data: m.ItemCreate, op: Operation) -> m.Item: ...
    @abstractmethod
    async def update_item(
        self, session: AsyncSession, item_id: str, data: m.ItemUpdate, if_match: str | None
    ) -> m.Item: ...
    @abstractmethod
    async def get_item(self, session: AsyncSession, item_id: str) -> m.Item: ...
    @abstractmethod
    async def item_stock(self, session: AsyncSession, item_id: str) -> m.ItemStock: ...
    @abstractmethod
    async def list_items(
        self, session: AsyncSession, q: PageQuery, item_type: m.ItemType | None
    ) -> Page[m.Item]: ...
    @abstractmethod
    async def create_supplier(
        self, session: AsyncSession, data: m.SupplierCreate, op: Operation
    ) -> m.Supplier: ...
    @abstractmethod
    async def get_supplier(self, session: AsyncSession, supplier_id: str) -> m.Supplier: ...
    @abstractmethod
    async def list_suppliers(self, session: AsyncSession, q: PageQuery) -> Page[m.Supplier]: ...

    # purchase orders and receipts
    @abstractmethod
    async def create_purchase_order(
        self, session: AsyncSession, data: m.PurchaseOrderCreate, op: Operation
    ) -> m.PurchaseOrder: ...
    @abstractmethod
    async def get_purchase_order(self, session: AsyncSession, po_id: str) -> m.PurchaseOrder: ...
    @abstractmethod
    async def list_purchase_orders(
        self,
        session: AsyncSession,
        q: PageQuery,
        supplier_id: str | None,
        statuses: Sequence[m.PurchaseOrderStatus],
    ) -> Page[m.PurchaseOrder]: ...
    @abstractmethod
    async def cancel_purchase_order(
        self, session: AsyncSession, po_id: str, if_match: str | None
    ) -> m.PurchaseOrder: ...
    @abstractmethod
    async def post_goods_receipt(
        self, session: AsyncSession, data: m.GoodsReceiptCreate, op: Operation
    ) -> m.GoodsReceipt: ...
    @abstractmethod
    async def post_production_receipt(
        self, session: AsyncSession, data: m.ProductionReceiptCreate, op: Operation
    ) -> m.GoodsReceipt: ...
    @abstractmethod
    async def get_goods_receipt(self, session: AsyncSession, receipt_id: str) -> m.GoodsReceipt: ...
    @abstractmethod
    async def list_goods_receipts(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        supplier_id: str | None = None,
        lot_id: str | None = None,
    ) -> Page[m.GoodsReceipt]: ...
    @abstractmethod
    async def flag_purchase_order(
        self, session: AsyncSession, po: m.PurchaseOrder, alert: m.QualityAlert, op: Operation
    ) -> None:
        """Show purchasing the alert on the order where they work (its row is ours: alerts.py)."""

    # lots and stock movements
    @abstractmethod
    async def get_lot(self, session: AsyncSession, lot_id: str) -> m.Lot: ...
    @abstractmethod
    async def list_lots(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        supplier_id: str | None,
        status: m.StockStatus | None,
        supplier_lot: str | None = None,
    ) -> Page[m.Lot]: ...
    @abstractmethod
    async def post_movement(
        self,
        session: AsyncSession,
        data: m.InventoryTransactionCreate,
        if_match: str | None,
        op: Operation,
    ) -> m.InventoryTransaction: ...
    @abstractmethod
    async def reverse_movement(
        self, session: AsyncSession, txn_id: str, data: m.ReversalCreate, op: Operation
    ) -> m.InventoryTransaction: ...
    @abstractmethod
    async def get_movement(self, session: AsyncSession, txn_id: str) -> m.InventoryTransaction: ...
    @abstractmethod
    async def list_movements(
        self,
        session: AsyncSession,
        q: PageQuery,
        lot_id: str | None,
        type_: m.MovementType | None,
        order_ref: str | None,
    ) -> Page[m.InventoryTransaction]: ...

    # supplier invoices (payment holds themselves are ours: holds.py)
    @abstractmethod
    async def create_supplier_invoice(
        self, session: AsyncSession, data: m.SupplierInvoiceCreate, op: Operation
    ) -> m.SupplierInvoice: ...
    @abstractmethod
    async def get_supplier_invoice(self, session: AsyncSession, invoice_id: str) -> m.SupplierInvoice: ...
    @abstractmethod
    async def list_supplier_invoices(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        lot_id: str | None,
        status: m.InvoiceStatus | None,
    ) -> Page[m.SupplierInvoice]: ...
    @abstractmethod
    async def pay_supplier_invoice(
        self, session: AsyncSession, invoice_id: str, data: m.InvoicePayment, op: Operation
    ) -> m.SupplierInvoice:
        """Settle the invoice in full; 409 payment-blocked while a lot of it is on a payment hold."""

    @abstractmethod
    async def sync_payment_block(self, session: AsyncSession, lot_id: str, op: Operation) -> list[str]:
        """Make the payment block of each open invoice of the lot match the holds now; its ids."""

    @abstractmethod
    async def credit_return(
        self, session: AsyncSession, receipt: m.GoodsReceipt, quantity: float, reason: str, op: Operation
    ) -> m.SupplierInvoice | None:
        """A credit note for returned goods of an invoiced receipt; None when it is not invoiced."""

    # deliveries
    @abstractmethod
    async def create_delivery(
        self, session: AsyncSession, data: m.DeliveryCreate, op: Operation
    ) -> m.Delivery: ...
    @abstractmethod
    async def get_delivery(self, session: AsyncSession, delivery_id: str) -> m.Delivery: ...
    @abstractmethod
    async def list_deliveries(
        self, session: AsyncSession, q: PageQuery, customer_id: str | None, order_ref: str | None
    ) -> Page[m.Delivery]: ...

    # costs and purchase requisitions
    @abstractmethod
    async def post_cost(
        self, session: AsyncSession, data: m.CostPostingCreate, op: Operation
    ) -> m.CostPosting: ...
    @abstractmethod
    async def get_cost(self, session: AsyncSession, posting_id: str) -> m.CostPosting: ...
    @abstractmethod
    async def list_costs(
        self, session: AsyncSession, q: PageQuery, order_ref: str | None, cost_centre: str | None
    ) -> Page[m.CostPosting]: ...
    @abstractmethod
    async def create_requisition(
        self, session: AsyncSession, data: m.PurchaseRequisitionCreate, op: Operation
    ) -> m.PurchaseRequisition: ...
    @abstractmethod
    async def get_requisition(self, session: AsyncSession, requisition_id: str) -> m.PurchaseRequisition: ...
    @abstractmethod
    async def list_requisitions(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        status: m.RequisitionStatus | None,
    ) -> Page[m.PurchaseRequisition]: ...
    @abstractmethod
    async def move_requisition(
        self,
        session: AsyncSession,
        requisition_id: str,
        action: str,
        if_match: str | None,
        *,
        po_id: str | None = None,
        reason: str | None = None,
    ) -> m.PurchaseRequisition: ...


# What route handlers declare to receive the service's backend and the command's key.
Erp = NamedDependency[ErpBackend]
Op = NamedDependency[Operation]
