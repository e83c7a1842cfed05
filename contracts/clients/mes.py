"""Typed client of the MES system API v1."""

from __future__ import annotations

from contracts.clients.base import ApiClient, segment
from contracts.models import mes as m

API = "/mes/v1"


class MesClient(ApiClient):
    service = "mes"

    async def get_equipment(self, equipment_id: str) -> m.Equipment:
        return await self.get(f"{API}/equipment/{segment(equipment_id)}", m.Equipment)

    async def change_state(
        self, equipment_id: str, change: m.EquipmentStateChange, *, idempotency_key: str
    ) -> m.Equipment:
        return await self.post(
            f"{API}/equipment/{segment(equipment_id)}/state",
            change,
            m.Equipment,
            idempotency_key=idempotency_key,
        )

    async def confirm_on_equipment(
        self, equipment_id: str, quantities: m.EquipmentConfirmationCreate, *, idempotency_key: str
    ) -> m.Confirmation:
        return await self.post(
            f"{API}/equipment/{segment(equipment_id)}/confirmations",
            quantities,
            m.Confirmation,
            idempotency_key=idempotency_key,
        )

    async def get_order(self, order_id: str) -> m.ProductionOrder:
        return await self.get(f"{API}/production-orders/{segment(order_id)}", m.ProductionOrder)

    async def list_orders(
        self, *, equipment_id: str | None = None, status: m.ProductionOrderStatus | None = None
    ) -> list[m.ProductionOrder]:
        params = {"equipment_id": equipment_id, "status": status, "limit": 200}
        return await self.get_all(f"{API}/production-orders", m.ProductionOrder, params)

    async def order_batches(self, order_id: str) -> list[m.BatchCompletion]:
        return await self.get_all(
            f"{API}/production-orders/{segment(order_id)}/batches", m.BatchCompletion, {"limit": 200}
        )

    async def order_consumptions(self, order_id: str) -> list[m.Consumption]:
        return await self.get_all(
            f"{API}/production-orders/{segment(order_id)}/consumptions", m.Consumption, {"limit": 200}
        )

    async def hold_order(self, order_id: str, hold: m.Hold, *, idempotency_key: str) -> m.ProductionOrder:
        return await self.post(
            f"{API}/production-orders/{segment(order_id)}/hold",
            hold,
            m.ProductionOrder,
            idempotency_key=idempotency_key,
        )

    async def resume_order(self, order_id: str, *, idempotency_key: str) -> m.ProductionOrder:
        return await self.post(
            f"{API}/production-orders/{segment(order_id)}/resume",
            None,
            m.ProductionOrder,
            idempotency_key=idempotency_key,
        )

    async def list_batches(self, *, lot_id: str) -> list[m.BatchCompletion]:
        return await self.get_all(f"{API}/batches", m.BatchCompletion, {"lot_id": lot_id, "limit": 200})

    async def set_batch_quality(
        self, batch_id: str, change: m.BatchQualityChange, *, idempotency_key: str
    ) -> m.BatchCompletion:
        return await self.post(
            f"{API}/batches/{segment(batch_id)}/quality-status",
            change,
            m.BatchCompletion,
            idempotency_key=idempotency_key,
        )

    async def create_order(
        self, order: m.ProductionOrderCreate, *, idempotency_key: str
    ) -> m.ProductionOrder:
        return await self.post(
            f"{API}/production-orders", order, m.ProductionOrder, idempotency_key=idempotency_key
        )

    async def find_orders(self, **filters: str) -> list[m.ProductionOrder]:
        return await self.get_all(f"{API}/production-orders", m.ProductionOrder, {"limit": 200, **filters})

    async def genealogy(
        self, lot_id: str, direction: m.TraceDirection, *, max_depth: int, max_orders: int
    ) -> m.Genealogy:
        params = {"lot_id": lot_id, "direction": direction, "max_depth": max_depth, "max_orders": max_orders}
        return await self.get(f"{API}/genealogy", m.Genealogy, params)
