"""QMS settings, read from QMS_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings


class QmsSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/qms.db"
    port: int = 8102
