"""Quality process settings, read from QUALITY_* environment variables."""

from __future__ import annotations

from typing import Literal

from contracts.kit.settings import FlowSettings
from contracts.topology import by_name


class QualitySettings(FlowSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/quality.db"
    port: int = by_name("quality").port
    erp_url: str = by_name("erp").local_url
    qms_url: str = by_name("qms").local_url
    mes_url: str = by_name("mes").local_url
    xref_url: str = by_name("xref").local_url
    client_id: str = by_name("quality").client_id
    rules_file: str = ""  # plant rules (TOML); built-in defaults when empty
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
