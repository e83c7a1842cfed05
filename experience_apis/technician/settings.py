"""Technician experience settings, read from TECHNICIAN_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import CallerSettings
from contracts.topology import by_name


class TechnicianSettings(CallerSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table, so a
    # resent request replays its first answer.
    database_url: str = "sqlite+aiosqlite:///data/technician.db"
    port: int = by_name("technician").port
    outbox_relay: bool = False  # publishes no events
    cmms_url: str = by_name("cmms").local_url
    qms_url: str = by_name("qms").local_url
    erp_url: str = by_name("erp").local_url
    client_id: str = by_name("technician").client_id
    history_limit: int = 5  # earlier work orders shown per asset
    history_days: int = 365  # ... changed within this many days
