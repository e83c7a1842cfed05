"""Typed client of the cross-reference registry v1."""

from __future__ import annotations

from datetime import datetime

from contracts.clients.base import ApiClient
from contracts.models import xref as m

API = "/xref/v1"


class XrefClient(ApiClient):
    service = "xref"

    async def resolve(
        self,
        kind: m.Kind,
        source: m.IdSpace,
        id_: str,
        *,
        to: m.System | None = None,
        at: datetime | None = None,
    ) -> m.Resolution:
        """The canonical id and the system ids valid at `at` (404 UpstreamProblem when unknown)."""
        params = {"kind": kind, "from": source, "id": id_, "to": to, "at": at.isoformat() if at else None}
        return await self.get(f"{API}/resolve", m.Resolution, {k: v for k, v in params.items() if v})

    async def system_id(
        self, kind: m.Kind, source: m.IdSpace, id_: str, to: m.System, *, at: datetime | None = None
    ) -> str | None:
        """The one id in system `to` valid at `at`, or None when the thing has none there then."""
        found = await self.resolve(kind, source, id_, to=to, at=at)
        return next((ref.system_id for ref in found.ids if ref.system == to), None)
