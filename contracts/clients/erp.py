"""Typed client of the ERP system API v1."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contracts.clients.base import ApiClient, segment
from contracts.models import erp as m

API = "/erp/v1"


class ErpClient(ApiClient):
    service = "erp"

    async def get_item(self, item_id: str) -> m.Item:
        return await self.get(f"{API}/items/{segment(item_id)}", m.Item)

    async def get_lot(self, lot_id: str) -> m.Lot:
        return await self.get(f"{API}/lots/{segment(lot_id)}", m.Lot)

    async def move_stock(
        self, movement: m.InventoryTransactionCreate, *, idempotency_key: str
    ) -> m.InventoryTransaction:
        return await self.post(
            f"{API}/inventory-transactions", movement, m.InventoryTransaction, idempotency_key=idempotency_key
        )

    async def issue_to_order(
        self,
        issues: Sequence[Mapping[str, Any]],
        *,
        order_ref: str,
        reason: Callable[[Mapping[str, Any]], str],
        idempotency_key: str,
        cost_centre: str | None = None,
    ) -> list[str]:
        """Issues each planned line (`lot_id`, `quantity`, `location`) from unrestricted stock to
        `order_ref`, one movement per line keyed `<idempotency_key>:<line's index>` so a retry
        posts none twice; the movements' transaction ids."""
        txn_ids = []
        for number, issue in enumerate(issues):
            txn = await self.move_stock(
                m.InventoryTransactionCreate(
                    type=m.StockMovement.ISSUE,
                    lot_id=issue["lot_id"],
                    quantity=issue["quantity"],
                    location=issue["location"],
                    from_status=m.StockStatus.UNRESTRICTED,
                    order_ref=order_ref,
                    cost_centre=cost_centre,
                    reason=reason(issue),
                ),
                idempotency_key=f"{idempotency_key}:{number}",
            )
            txn_ids.append(txn.txn_id)
        return txn_ids

    async def receive_production(
        self, receipt: m.ProductionReceiptCreate, *, idempotency_key: str
    ) -> m.GoodsReceipt:
        return await self.post(
            f"{API}/production-receipts", receipt, m.GoodsReceipt, idempotency_key=idempotency_key
        )

    async def post_cost(self, cost: m.CostPostingCreate, *, idempotency_key: str) -> m.CostPosting:
        return await self.post(f"{API}/cost-postings", cost, m.CostPosting, idempotency_key=idempotency_key)

    async def get_item_stock(self, item_id: str) -> m.ItemStock:
        return await self.get(f"{API}/items/{segment(item_id)}/stock", m.ItemStock)

    async def list_lots(
        self, *, item_id: str | None = None, status: m.StockStatus | None = None, limit: int = 200
    ) -> list[m.Lot]:
        """Every lot matching (all pages), oldest change first."""
        params = {"item_id": item_id, "status": status, "limit": limit}
        return await self.get_all(f"{API}/lots", m.Lot, params)

    async def list_movements(
        self, *, lot_id: str | None = None, type: m.MovementType | None = None, order_ref: str | None = None
    ) -> list[m.InventoryTransaction]:
        params = {"lot_id": lot_id, "type": type, "order_ref": order_ref, "limit": 200}
        return await self.get_all(f"{API}/inventory-transactions", m.InventoryTransaction, params)

    async def list_costs(self, *, order_ref: str | None = None) -> list[m.CostPosting]:
        return await self.get_all(
            f"{API}/cost-postings", m.CostPosting, {"order_ref": order_ref, "limit": 200}
        )

    async def raise_requisition(
        self, requisition: m.PurchaseRequisitionCreate, *, idempotency_key: str
    ) -> m.PurchaseRequisition:
        return await self.post(
            f"{API}/purchase-requisitions",
            requisition,
            m.PurchaseRequisition,
            idempotency_key=idempotency_key,
        )

    async def list_requisitions(
        self, *, item_id: str | None = None, status: m.RequisitionStatus | None = None
    ) -> list[m.PurchaseRequisition]:
        params = {"item_id": item_id, "status": status, "limit": 200}
        return await self.get_all(f"{API}/purchase-requisitions", m.PurchaseRequisition, params)

    async def list_supplier_lots(self, supplier_id: str) -> list[m.Lot]:
        """Every lot received from one supplier (the supplier portal's scorecard)."""
        return await self.get_all(f"{API}/lots", m.Lot, {"supplier_id": supplier_id, "limit": 500})

    async def supplier_receipts(self, supplier_id: str) -> list[m.GoodsReceipt]:
        """Every goods receipt from a supplier: its delivery history (receipts never change)."""
        return await self.get_all(
            f"{API}/goods-receipts", m.GoodsReceipt, {"supplier_id": supplier_id, "limit": 500}
        )

    async def lot_receipts(self, lot_id: str) -> list[m.GoodsReceipt]:
        return await self.get_all(f"{API}/goods-receipts", m.GoodsReceipt, {"lot_id": lot_id, "limit": 500})

    async def lots_by_supplier_lot(self, supplier_lot: str) -> list[m.Lot]:
        return await self.get_all(f"{API}/lots", m.Lot, {"supplier_lot": supplier_lot, "limit": 500})

    async def get_goods_receipt(self, receipt_id: str) -> m.GoodsReceipt:
        return await self.get(f"{API}/goods-receipts/{segment(receipt_id)}", m.GoodsReceipt)

    async def list_purchase_orders(
        self, *, supplier_id: str, statuses: Sequence[m.PurchaseOrderStatus]
    ) -> list[m.PurchaseOrder]:
        """The supplier's purchase orders in any of `statuses` (every one when none are given),
        in one request per page. An ERP API from before 2026-12-07 reads only the last status."""
        params = {"supplier_id": supplier_id, "status": list(statuses), "limit": 200}
        return await self.get_all(f"{API}/purchase-orders", m.PurchaseOrder, params)

    async def flag_purchase_order(
        self, po_id: str, alert: m.QualityAlertCreate, *, idempotency_key: str
    ) -> m.PurchaseOrder:
        return await self.post(
            f"{API}/purchase-orders/{segment(po_id)}/quality-alerts",
            alert,
            m.PurchaseOrder,
            idempotency_key=idempotency_key,
        )

    async def hold_payment(
        self, lot_id: str, hold: m.PaymentHoldCreate, *, idempotency_key: str
    ) -> m.PaymentHold:
        return await self.post(
            f"{API}/lots/{segment(lot_id)}/payment-hold", hold, m.PaymentHold, idempotency_key=idempotency_key
        )

    async def release_payment(
        self, lot_id: str, release: m.PaymentHoldRelease, *, idempotency_key: str
    ) -> m.PaymentHold:
        return await self.post(
            f"{API}/lots/{segment(lot_id)}/payment-hold/release",
            release,
            m.PaymentHold,
            idempotency_key=idempotency_key,
        )

    async def settle_return(
        self, settlement: m.ReturnSettlementCreate, *, idempotency_key: str
    ) -> m.ReturnSettlement:
        return await self.post(
            f"{API}/return-settlements", settlement, m.ReturnSettlement, idempotency_key=idempotency_key
        )
