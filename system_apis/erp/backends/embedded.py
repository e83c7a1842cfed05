"""The embedded ERP: records in this service's own tables (system_apis/erp/service.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.app import Runtime
from contracts.kit.paging import Page, PageQuery
from contracts.models import erp as m
from system_apis.erp import invoicing, requisitions, service, shipping
from system_apis.erp.port import ErpBackend, Operation


class EmbeddedErp(ErpBackend):
    """Idempotency is the kernel's: the key's answer is stored in the change's own transaction,
    so `op` is not needed here."""

    name = "embedded"

    @asynccontextmanager
    async def lifespan(self, runtime: Runtime) -> AsyncIterator[None]:
        yield

    async def create_item(self, session: AsyncSession, data: m.ItemCreate, op: Operation) -> m.Item:
        return await service.create_item(session, data)

    async def update_item(
        self, session: AsyncSession, item_id: str, data: m.ItemUpdate, if_match: str | None
    ) -> m.Item:
        return await service.update_item(session, item_id, data, if_match)

    async def get_item(self, session: AsyncSession, item_id: str) -> m.Item:
        return await service.get_item(session, item_id)

    async def item_stock(self, session: AsyncSession, item_id: str) -> m.ItemStock:
        return await service.item_stock(session, item_id)

    async def list_items(
        self, session: AsyncSession, q: PageQuery, item_type: m.ItemType | None
    ) -> Page[m.Item]:
        return await service.list_items(session, q, item_type)

    async def create_supplier(
        self, session: AsyncSession, data: m.SupplierCreate, op: Operation
    ) -> m.Supplier:
        return await service.create_supplier(session, data)

    async def get_supplier(self, session: AsyncSession, supplier_id: str) -> m.Supplier:
        return await service.get_supplier(session, supplier_id)

    async def list_suppliers(self, session: AsyncSession, q: PageQuery) -> Page[m.Supplier]:
        return await service.list_suppliers(session, q)

    async def create_purchase_order(
        self, session: AsyncSession, data: m.PurchaseOrderCreate, op: Operation
    ) -> m.PurchaseOrder:
        return await service.create_purchase_order(session, data)

    async def get_purchase_order(self, session: AsyncSession, po_id: str) -> m.PurchaseOrder:
        return await service.get_purchase_order(session, po_id)

    async def list_purchase_orders(
        self,
        session: AsyncSession,
        q: PageQuery,
        supplier_id: str | None,
        statuses: Sequence[m.PurchaseOrderStatus],
    ) -> Page[m.PurchaseOrder]:
        return await service.list_purchase_orders(session, q, supplier_id, statuses)

    async def cancel_purchase_order(
        self, session: AsyncSession, po_id: str, if_match: str | None
    ) -> m.PurchaseOrder:
        return await service.cancel_purchase_order(session, po_id, if_match)

    async def post_goods_receipt(
        self, session: AsyncSession, data: m.GoodsReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        return await service.post_goods_receipt(session, data)

    async def post_production_receipt(
        self, session: AsyncSession, data: m.ProductionReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        return await service.post_production_receipt(session, data)

    async def get_goods_receipt(self, session: AsyncSession, receipt_id: str) -> m.GoodsReceipt:
        return await service.get_goods_receipt(session, receipt_id)

    async def list_goods_receipts(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        supplier_id: str | None = None,
        lot_id: str | None = None,
    ) -> Page[m.GoodsReceipt]:
        return await service.list_goods_receipts(session, q, po_id, supplier_id, lot_id)

    async def flag_purchase_order(
        self, session: AsyncSession, po: m.PurchaseOrder, alert: m.QualityAlert, op: Operation
    ) -> None:
        return None  # the alert row (alerts.py) is the flag: the order is in these tables too

    async def create_supplier_invoice(
        self, session: AsyncSession, data: m.SupplierInvoiceCreate, op: Operation
    ) -> m.SupplierInvoice:
        return await invoicing.create(session, data)

    async def get_supplier_invoice(self, session: AsyncSession, invoice_id: str) -> m.SupplierInvoice:
        return await invoicing.get(session, invoice_id)

    async def list_supplier_invoices(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        lot_id: str | None,
        status: m.InvoiceStatus | None,
    ) -> Page[m.SupplierInvoice]:
        return await invoicing.list_invoices(session, q, po_id, lot_id, status)

    async def pay_supplier_invoice(
        self, session: AsyncSession, invoice_id: str, data: m.InvoicePayment, op: Operation
    ) -> m.SupplierInvoice:
        return await invoicing.pay(session, invoice_id, data)

    async def sync_payment_block(self, session: AsyncSession, lot_id: str, op: Operation) -> list[str]:
        return await invoicing.invoices_of_lot(session, lot_id)  # their block is read from the holds

    async def credit_return(
        self, session: AsyncSession, receipt: m.GoodsReceipt, quantity: float, reason: str, op: Operation
    ) -> m.SupplierInvoice | None:
        return await invoicing.credit_return(session, receipt, quantity, reason)

    async def create_delivery(
        self, session: AsyncSession, data: m.DeliveryCreate, op: Operation
    ) -> m.Delivery:
        return await shipping.create(session, data)

    async def get_delivery(self, session: AsyncSession, delivery_id: str) -> m.Delivery:
        return await shipping.get(session, delivery_id)

    async def list_deliveries(
        self, session: AsyncSession, q: PageQuery, customer_id: str | None, order_ref: str | None
    ) -> Page[m.Delivery]:
        return await shipping.list_deliveries(session, q, customer_id, order_ref)

    async def get_lot(self, session: AsyncSession, lot_id: str) -> m.Lot:
        return await service.get_lot(session, lot_id)

    async def list_lots(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        supplier_id: str | None,
        status: m.StockStatus | None,
        supplier_lot: str | None = None,
    ) -> Page[m.Lot]:
        return await service.list_lots(session, q, item_id, supplier_id, status, supplier_lot)

    async def post_movement(
        self,
        session: AsyncSession,
        data: m.InventoryTransactionCreate,
        if_match: str | None,
        op: Operation,
    ) -> m.InventoryTransaction:
        return await service.post_movement(session, data, if_match)

    async def reverse_movement(
        self, session: AsyncSession, txn_id: str, data: m.ReversalCreate, op: Operation
    ) -> m.InventoryTransaction:
        return await service.reverse_movement(session, txn_id, data)

    async def get_movement(self, session: AsyncSession, txn_id: str) -> m.InventoryTransaction:
        return await service.get_movement(session, txn_id)

    async def list_movements(
        self,
        session: AsyncSession,
        q: PageQuery,
        lot_id: str | None,
        type_: m.MovementType | None,
        order_ref: str | None,
    ) -> Page[m.InventoryTransaction]:
        return await service.list_movements(session, q, lot_id, type_, order_ref)

    async def post_cost(
        self, session: AsyncSession, data: m.CostPostingCreate, op: Operation
    ) -> m.CostPosting:
        return await service.post_cost(session, data)

    async def get_cost(self, session: AsyncSession, posting_id: str) -> m.CostPosting:
        return await service.get_cost(session, posting_id)

    async def list_costs(
        self, session: AsyncSession, q: PageQuery, order_ref: str | None, cost_centre: str | None
    ) -> Page[m.CostPosting]:
        return await service.list_costs(session, q, order_ref, cost_centre)

    async def create_requisition(
        self, session: AsyncSession, data: m.PurchaseRequisitionCreate, op: Operation
    ) -> m.PurchaseRequisition:
        return await requisitions.create(session, data)

    async def get_requisition(self, session: AsyncSession, requisition_id: str) -> m.PurchaseRequisition:
        return await requisitions.get(session, requisition_id)

    async def list_requisitions(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        status: m.RequisitionStatus | None,
    ) -> Page[m.PurchaseRequisition]:
        return await requisitions.list_requisitions(session, q, item_id, status)

    async def move_requisition(
        self,
        session: AsyncSession,
        requisition_id: str,
        action: str,
        if_match: str | None,
        *,
        po_id: str | None = None,
        reason: str | None = None,
    ) -> m.PurchaseRequisition:
        return await requisitions.move(session, requisition_id, action, if_match, po_id=po_id, reason=reason)
