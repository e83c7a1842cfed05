"""Typed client of the QMS system API v1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from contracts.clients.base import ApiClient, UpstreamProblem, segment
from contracts.kit.paging import Page
from contracts.models import qms as m

API = "/qms/v1"


class QmsClient(ApiClient):
    service = "qms"

    async def create_inspection_lot(
        self, lot: m.InspectionLotCreate, *, idempotency_key: str
    ) -> m.InspectionLot:
        return await self.post(
            f"{API}/inspection-lots", lot, m.InspectionLot, idempotency_key=idempotency_key
        )

    async def get_inspection_lot(self, inspection_lot_id: str) -> m.InspectionLot:
        return await self.get(f"{API}/inspection-lots/{segment(inspection_lot_id)}", m.InspectionLot)

    async def mark_stock_posted(
        self, inspection_lot_id: str, posted: m.StockPosted, *, idempotency_key: str
    ) -> m.InspectionLot:
        return await self.post(
            f"{API}/inspection-lots/{segment(inspection_lot_id)}/stock-posted",
            posted,
            m.InspectionLot,
            idempotency_key=idempotency_key,
        )

    async def open_nonconformance(
        self, nc: m.NonconformanceCreate, *, idempotency_key: str
    ) -> m.Nonconformance:
        return await self.post(
            f"{API}/nonconformances", nc, m.Nonconformance, idempotency_key=idempotency_key
        )

    async def get_nonconformance(self, nc_id: str) -> m.Nonconformance:
        return await self.get(f"{API}/nonconformances/{segment(nc_id)}", m.Nonconformance)

    async def open_supplier_case(self, case: m.SupplierCaseCreate, *, idempotency_key: str) -> m.SupplierCase:
        return await self.post(f"{API}/supplier-cases", case, m.SupplierCase, idempotency_key=idempotency_key)

    async def issue_supplier_case(
        self, case_id: str, note: m.TransitionNote, *, idempotency_key: str
    ) -> m.SupplierCase:
        """Issue a case to its supplier; a case someone has issued already is left as it is."""
        try:
            return await self.post(
                f"{API}/supplier-cases/{segment(case_id)}/issue",
                note,
                m.SupplierCase,
                idempotency_key=idempotency_key,
            )
        except UpstreamProblem as exc:
            if exc.status != 409 or exc.problem.get("current_state") == m.SupplierCaseStatus.OPEN:
                raise
            return await self.get_supplier_case(case_id)

    async def list_capas(self, *, nc_id: str | None = None) -> list[m.Capa]:
        return await self.get_all(f"{API}/capas", m.Capa, {"nc_id": nc_id, "limit": 200})

    async def create_capa(self, capa: m.CapaCreate, *, idempotency_key: str) -> m.Capa:
        return await self.post(f"{API}/capas", capa, m.Capa, idempotency_key=idempotency_key)

    async def update_capa(self, capa_id: str, change: m.CapaUpdate, *, if_match: str | None = None) -> m.Capa:
        return await self.patch(f"{API}/capas/{segment(capa_id)}", change, m.Capa, if_match=if_match)

    # --- used by the supplier portal ---
    async def list_supplier_cases_page(self, params: dict[str, Any]) -> Page[m.SupplierCase]:
        return await self.get(f"{API}/supplier-cases", Page[m.SupplierCase], params)

    async def list_supplier_cases(self, *, supplier_id: str) -> list[m.SupplierCase]:
        return await self.get_all(
            f"{API}/supplier-cases", m.SupplierCase, {"supplier_id": supplier_id, "limit": 500}
        )

    async def get_supplier_case(self, case_id: str) -> m.SupplierCase:
        return await self.get(f"{API}/supplier-cases/{segment(case_id)}", m.SupplierCase)

    async def respond_to_supplier_case(
        self,
        case_id: str,
        response: m.SupplierResponseCreate,
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> m.SupplierCase:
        return await self.post(
            f"{API}/supplier-cases/{segment(case_id)}/response",
            response,
            m.SupplierCase,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )

    async def list_inspection_lots_page(self, params: dict[str, Any]) -> Page[m.InspectionLot]:
        return await self.get(f"{API}/inspection-lots", Page[m.InspectionLot], params)

    async def list_inspection_lots(self, *, supplier_id: str) -> list[m.InspectionLot]:
        return await self.get_all(
            f"{API}/inspection-lots", m.InspectionLot, {"supplier_id": supplier_id, "limit": 500}
        )

    # --- used by the operations monitors ---
    async def find_inspection_lots(self, **filters: Any) -> list[m.InspectionLot]:
        """Every inspection lot matching (status, lot_id, updated_since, ...), all pages."""
        return await self.get_all(f"{API}/inspection-lots", m.InspectionLot, {"limit": 500, **filters})

    async def latest_decisions(
        self, statuses: Iterable[m.InspectionLotStatus], *, updated_since: str
    ) -> list[m.InspectionLot]:
        """Per ERP lot, of its inspection lots in `statuses` changed since then, the one whose usage
        decision was made last; in the order decided."""
        found = await asyncio.gather(
            *(self.find_inspection_lots(status=s, updated_since=updated_since) for s in statuses)
        )
        latest: dict[str, m.InspectionLot] = {}
        for il in (il for group in found for il in group if il.usage_decision):
            held = latest.get(il.lot_id)
            if held is None or _decided_at(il) > _decided_at(held):
                latest[il.lot_id] = il
        return sorted(latest.values(), key=_decided_at)

    async def find_supplier_cases(self, **filters: Any) -> list[m.SupplierCase]:
        return await self.get_all(f"{API}/supplier-cases", m.SupplierCase, {"limit": 500, **filters})

    async def find_nonconformances(self, **filters: Any) -> list[m.Nonconformance]:
        return await self.get_all(f"{API}/nonconformances", m.Nonconformance, {"limit": 500, **filters})


def _decided_at(il: m.InspectionLot) -> datetime:
    assert il.usage_decision is not None
    return il.usage_decision.decided_at
