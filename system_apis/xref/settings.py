"""Registry settings, read from XREF_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name


class XrefSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/xref.db"
    port: int = by_name("xref").port
