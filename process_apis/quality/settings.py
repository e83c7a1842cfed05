"""Quality process settings, read from QUALITY_* environment variables."""

from __future__ import annotations

from typing import Literal

from contracts.kit.settings import FlowSettings


class QualitySettings(FlowSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/quality.db"
    port: int = 8201
    erp_url: str = "http://127.0.0.1:8101"
    qms_url: str = "http://127.0.0.1:8102"
    mes_url: str = "http://127.0.0.1:8104"
    xref_url: str = "http://127.0.0.1:8105"
    # This service's own OAuth2 client at the gateway, for its calls to the system APIs.
    client_id: str = "quality-process"
    client_secret: str = ""
    rules_file: str = ""  # plant rules (TOML); built-in defaults when empty
    upstream_timeout_seconds: float = 5.0
    # Email to people (procurement, quality leadership); recipients are in the rules file.
    smtp_host: str = ""  # empty: email is off
    smtp_port: int = 25
    smtp_sender: str = "plantbridge@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    # Reconciliation: a pass every N seconds (0: only when asked), recording what is out of step;
    # "repair" also re-runs the hold, release or MES status, "report" leaves that to an operator.
    reconcile_seconds: float = 300.0
    reconcile_mode: Literal["report", "repair"] = "report"
    reconcile_lookback_days: int = 90
