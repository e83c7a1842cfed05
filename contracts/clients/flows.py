"""Typed clients of the process APIs' flow store (`/<process>/v1/flows`, contracts/kit/flows/api.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.clients.base import ApiClient, segment
from contracts.kit.paging import Page
from contracts.kit.wire.flows import Approval, ApprovalDecision, Flow, Timeline
from contracts.models.quality import Disagreement, ReconciliationRun


class FlowsClient(ApiClient):
    api: ClassVar[str]  # "/quality/v1"

    async def list_flows_page(self, **filters: Any) -> Page[Flow]:
        """One page; filters are the list's query parameters (status, type, correlation_id, lot_id,
        order_id, work_order_id, limit, cursor, ...)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return await self.get(f"{self.api}/flows", Page[Flow], params)

    async def list_flows(self, **filters: Any) -> list[Flow]:
        """Every flow matching (all pages)."""
        return await self.get_all(f"{self.api}/flows", Flow, {"limit": 200, **filters})

    async def get_flow(self, flow_id: str) -> Flow:
        return await self.get(f"{self.api}/flows/{segment(flow_id)}", Flow)

    async def timeline(self, flow_id: str) -> Timeline:
        return await self.get(f"{self.api}/flows/{segment(flow_id)}/timeline", Timeline)

    async def retry(self, flow_id: str, *, idempotency_key: str, if_match: str | None = None) -> Flow:
        return await self.post(
            f"{self.api}/flows/{segment(flow_id)}/retry",
            None,
            Flow,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )

    async def approvals(self, status: str = "pending") -> list[Approval]:
        """What the process's flows wait for (or, by status, what was decided)."""
        return await self.get_all(f"{self.api}/approvals", Approval, {"status": status, "limit": 200})

    async def decide(
        self, approval_id: str, verdict: str, comment: str | None, *, idempotency_key: str, if_match: str
    ) -> Approval:
        """`verdict` is approve or reject; whoever the caller acts for is the one deciding."""
        return await self.post(
            f"{self.api}/approvals/{segment(approval_id)}/{verdict}",
            ApprovalDecision(comment=comment),
            Approval,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )


class QualityClient(FlowsClient):
    service = "quality"
    api = "/quality/v1"

    async def list_disagreements(self, **filters: Any) -> list[Disagreement]:
        """Every disagreement matching (status, kind, lot_id), all pages."""
        return await self.get_all(f"{self.api}/disagreements", Disagreement, {"limit": 200, **filters})

    async def get_disagreement(self, disagreement_id: str) -> Disagreement:
        return await self.get(f"{self.api}/disagreements/{segment(disagreement_id)}", Disagreement)

    async def repair(self, disagreement_id: str, *, idempotency_key: str, if_match: str) -> Disagreement:
        return await self.post(
            f"{self.api}/disagreements/{segment(disagreement_id)}/repair",
            None,
            Disagreement,
            idempotency_key=idempotency_key,
            if_match=if_match,
        )

    async def reconcile(self, *, idempotency_key: str) -> ReconciliationRun:
        return await self.post(
            f"{self.api}/reconciliation/runs", None, ReconciliationRun, idempotency_key=idempotency_key
        )


class MaintenanceClient(FlowsClient):
    service = "maintenance"
    api = "/maintenance/v1"
