"""ERP settings, read from ERP_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings


class ErpSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/erp.db"
    port: int = 8101
