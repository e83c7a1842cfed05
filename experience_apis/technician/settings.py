"""Technician experience settings, read from TECHNICIAN_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings


class TechnicianSettings(ServiceSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table, so a
    # resent request replays its first answer.
    database_url: str = "sqlite+aiosqlite:///data/technician.db"
    port: int = 8301
    outbox_relay: bool = False  # publishes no events
    cmms_url: str = "http://127.0.0.1:8103"
    qms_url: str = "http://127.0.0.1:8102"
    erp_url: str = "http://127.0.0.1:8101"
    # This service's own OAuth2 client at the gateway, for its calls to the layers below.
    client_id: str = "technician-experience"
    client_secret: str = ""
    upstream_timeout_seconds: float = 5.0
    history_limit: int = 5  # earlier work orders shown per asset
    history_days: int = 365  # ... changed within this many days
