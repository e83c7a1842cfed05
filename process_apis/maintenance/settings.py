"""Maintenance process settings, read from MAINTENANCE_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import FlowSettings


class MaintenanceSettings(FlowSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/maintenance.db"
    port: int = 8202
    erp_url: str = "http://127.0.0.1:8101"
    qms_url: str = "http://127.0.0.1:8102"
    cmms_url: str = "http://127.0.0.1:8103"
    mes_url: str = "http://127.0.0.1:8104"
    xref_url: str = "http://127.0.0.1:8105"
    # This service's own OAuth2 client at the gateway, for its calls to the system APIs.
    client_id: str = "maintenance-process"
    client_secret: str = ""
    rules_file: str = ""  # plant rules (TOML); built-in defaults when empty
    upstream_timeout_seconds: float = 5.0
