"""Typed client of the QMS system API v1."""

from __future__ import annotations

from contracts.clients.base import ApiClient
from contracts.models import qms as m

API = "/qms/v1"


class QmsClient(ApiClient):
    service = "qms"

    async def create_inspection_lot(self, lot: m.InspectionLotCreate, *, idempotency_key: str) -> m.InspectionLot:
        return await self.post(f"{API}/inspection-lots", lot, m.InspectionLot, idempotency_key=idempotency_key)

    async def get_inspection_lot(self, inspection_lot_id: str) -> m.InspectionLot:
        return await self.get(f"{API}/inspection-lots/{inspection_lot_id}", m.InspectionLot)

    async def mark_stock_posted(
        self, inspection_lot_id: str, posted: m.StockPosted, *, idempotency_key: str
    ) -> m.InspectionLot:
        return await self.post(f"{API}/inspection-lots/{inspection_lot_id}/stock-posted", posted, m.InspectionLot,
                               idempotency_key=idempotency_key)

    async def open_nonconformance(self, nc: m.NonconformanceCreate, *, idempotency_key: str) -> m.Nonconformance:
        return await self.post(f"{API}/nonconformances", nc, m.Nonconformance, idempotency_key=idempotency_key)

    async def get_nonconformance(self, nc_id: str) -> m.Nonconformance:
        return await self.get(f"{API}/nonconformances/{nc_id}", m.Nonconformance)

    async def open_supplier_case(self, case: m.SupplierCaseCreate, *, idempotency_key: str) -> m.SupplierCase:
        return await self.post(f"{API}/supplier-cases", case, m.SupplierCase, idempotency_key=idempotency_key)
