"""Typed client of the CMMS system API v1."""

from __future__ import annotations

import msgspec

from contracts.clients.base import ApiClient, segment
from contracts.kit.paging import Page
from contracts.models import cmms as m

API = "/cmms/v1"


class CmmsClient(ApiClient):
    service = "cmms"

    async def get_asset(self, asset_id: str) -> m.Asset:
        return await self.get(f"{API}/assets/{segment(asset_id)}", m.Asset)

    async def report_down(self, asset_id: str, down: m.AssetDown, *, idempotency_key: str) -> m.Asset:
        return await self.post(
            f"{API}/assets/{segment(asset_id)}/down", down, m.Asset, idempotency_key=idempotency_key
        )

    async def restore_asset(self, asset_id: str, action: m.AssetAction, *, idempotency_key: str) -> m.Asset:
        return await self.post(
            f"{API}/assets/{segment(asset_id)}/restore", action, m.Asset, idempotency_key=idempotency_key
        )

    async def submit_request(
        self, request: m.MaintenanceRequestCreate, *, idempotency_key: str
    ) -> m.MaintenanceRequest:
        return await self.post(
            f"{API}/maintenance-requests", request, m.MaintenanceRequest, idempotency_key=idempotency_key
        )

    async def get_request(self, request_id: str) -> m.MaintenanceRequest:
        return await self.get(f"{API}/maintenance-requests/{segment(request_id)}", m.MaintenanceRequest)

    async def list_requests(
        self,
        *,
        asset_id: str | None = None,
        status: m.RequestStatus | None = None,
        nonconformance_id: str | None = None,
    ) -> list[m.MaintenanceRequest]:
        params = {
            "asset_id": asset_id,
            "status": status,
            "nonconformance_id": nonconformance_id,
            "limit": 200,
        }
        return await self.get_all(f"{API}/maintenance-requests", m.MaintenanceRequest, params)

    async def get_work_order(self, wo_id: str) -> m.WorkOrder:
        return await self.get(f"{API}/work-orders/{segment(wo_id)}", m.WorkOrder)

    async def mark_costs_posted(
        self, wo_id: str, posted: m.CostsPosted, *, idempotency_key: str
    ) -> m.WorkOrder:
        return await self.post(
            f"{API}/work-orders/{segment(wo_id)}/costs-posted",
            posted,
            m.WorkOrder,
            idempotency_key=idempotency_key,
        )

    async def close_work_order(self, wo_id: str, *, idempotency_key: str) -> m.WorkOrder:
        return await self.post(
            f"{API}/work-orders/{segment(wo_id)}/close", None, m.WorkOrder, idempotency_key=idempotency_key
        )

    # --- used by the technician experience API ---
    async def list_work_orders_page(
        self,
        *,
        assignee: str | None = None,
        site: str | None = None,
        asset_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        updated_since: str | None = None,
    ) -> Page[m.WorkOrder]:
        """One page (the caller keeps the cursor, e.g. a device doing delta sync)."""
        params = {
            "assignee": assignee,
            "site": site,
            "asset_id": asset_id,
            "limit": limit,
            "cursor": cursor,
            "updated_since": updated_since,
        }
        return await self.get(f"{API}/work-orders", Page[m.WorkOrder], {k: v for k, v in params.items() if v})

    async def work_order_action(
        self,
        wo_id: str,
        action: str,
        body: msgspec.Struct | None,
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> m.WorkOrder:
        """start, hold, resume, complete, parts, labor: each a POST on the work order."""
        return await self.post(
            f"{API}/work-orders/{segment(wo_id)}/{action}",
            body,
            m.WorkOrder,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )

    # --- used by the operations monitors ---
    async def find_work_orders(self, *, status: m.WorkOrderStatus | None = None) -> list[m.WorkOrder]:
        """Every work order in a status (all pages)."""
        return await self.get_all(f"{API}/work-orders", m.WorkOrder, {"status": status, "limit": 500})
