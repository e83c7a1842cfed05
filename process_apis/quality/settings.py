"""Quality process settings, read from QUALITY_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import FlowSettings


class QualitySettings(FlowSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/quality.db"
    port: int = 8201
    erp_url: str = "http://127.0.0.1:8101"
    qms_url: str = "http://127.0.0.1:8102"
    mes_url: str = "http://127.0.0.1:8104"
    # This service's own OAuth2 client at the gateway, for its calls to the system APIs.
    client_id: str = "quality-process"
    client_secret: str = ""
    rules_file: str = ""  # plant rules (TOML); built-in defaults when empty
    upstream_timeout_seconds: float = 5.0
