"""Maintenance process settings, read from MAINTENANCE_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import FlowSettings
from contracts.topology import by_name


class MaintenanceSettings(FlowSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/maintenance.db"
    port: int = by_name("maintenance").port
    erp_url: str = by_name("erp").local_url
    qms_url: str = by_name("qms").local_url
    cmms_url: str = by_name("cmms").local_url
    mes_url: str = by_name("mes").local_url
    xref_url: str = by_name("xref").local_url
    client_id: str = by_name("maintenance").client_id
    rules_file: str = ""  # plant rules (TOML); built-in defaults when empty
