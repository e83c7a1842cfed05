"""Typed client of the ERP system API v1."""

from __future__ import annotations

from contracts.clients.base import ApiClient
from contracts.models import erp as m

API = "/erp/v1"


class ErpClient(ApiClient):
    service = "erp"

    async def get_item(self, item_id: str) -> m.Item:
        return await self.get(f"{API}/items/{item_id}", m.Item)

    async def get_lot(self, lot_id: str) -> m.Lot:
        return await self.get(f"{API}/lots/{lot_id}", m.Lot)

    async def move_stock(
        self, movement: m.InventoryTransactionCreate, *, idempotency_key: str
    ) -> m.InventoryTransaction:
        return await self.post(
            f"{API}/inventory-transactions", movement, m.InventoryTransaction, idempotency_key=idempotency_key
        )

    async def receive_production(
        self, receipt: m.ProductionReceiptCreate, *, idempotency_key: str
    ) -> m.GoodsReceipt:
        return await self.post(
            f"{API}/production-receipts", receipt, m.GoodsReceipt, idempotency_key=idempotency_key
        )

    async def post_cost(self, cost: m.CostPostingCreate, *, idempotency_key: str) -> m.CostPosting:
        return await self.post(f"{API}/cost-postings", cost, m.CostPosting, idempotency_key=idempotency_key)
