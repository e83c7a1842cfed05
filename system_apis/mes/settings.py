"""MES settings, read from MES_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name


class MesSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/mes.db"
    port: int = by_name("mes").port
