"""Reading any system API's audit trail (`GET /<service>/v1/audit`, contracts/kit/audit.py)."""

from __future__ import annotations

from collections.abc import Mapping

from contracts.clients.base import ApiClient
from contracts.kit.paging import Page
from contracts.kit.wire.audit import AuditEntry


async def audit_page(
    client: ApiClient, filters: Mapping[str, str | None], *, limit: int = 200
) -> Page[AuditEntry]:
    """One page, oldest first; filters: record_type, record_id, correlation_id, flow_id, cursor."""
    params = {"limit": limit, **{k: v for k, v in filters.items() if v}}
    return await client.get(f"/{client.service}/v1/audit", Page[AuditEntry], params)
