"""Typed client of the QMS system API v2 (inspection lots with measurements)."""

from __future__ import annotations

from contracts.clients.base import ApiClient, segment
from contracts.models import qms_v2 as m

API = "/qms/v2"


class QmsV2Client(ApiClient):
    service = "qms"

    async def record_results(
        self, inspection_lot_id: str, results: m.ResultsRecord, *, idempotency_key: str
    ) -> m.InspectionLot:
        """Measurements as v2 takes them: value and unit with their uncertainty."""
        return await self.post(
            f"{API}/inspection-lots/{segment(inspection_lot_id)}/results",
            results,
            m.InspectionLot,
            idempotency_key=idempotency_key,
        )
