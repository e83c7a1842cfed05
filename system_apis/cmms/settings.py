"""CMMS settings, read from CMMS_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name


class CmmsSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/cmms.db"
    port: int = by_name("cmms").port
