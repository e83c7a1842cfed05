"""Technician experience settings, read from TECHNICIAN_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name


class TechnicianSettings(ServiceSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table, so a
    # resent request replays its first answer.
    database_url: str = "sqlite+aiosqlite:///data/technician.db"
    port: int = by_name("technician").port
    outbox_relay: bool = False  # publishes no events
    cmms_url: str = by_name("cmms").local_url
    qms_url: str = by_name("qms").local_url
    erp_url: str = by_name("erp").local_url
    # This service's own OAuth2 client at the gateway, for its calls to the layers below.
    client_id: str = by_name("technician").client_id
    client_secret: str = ""
    upstream_timeout_seconds: float = 5.0
    history_limit: int = 5  # earlier work orders shown per asset
    history_days: int = 365  # ... changed within this many days
