"""Supplier portal settings, read from SUPPLIER_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import CallerSettings
from contracts.topology import by_name


class SupplierSettings(CallerSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table, so a
    # resent request replays its first answer.
    database_url: str = "sqlite+aiosqlite:///data/supplier.db"
    port: int = by_name("supplier").port
    outbox_relay: bool = False  # publishes no events
    qms_url: str = by_name("qms").local_url
    erp_url: str = by_name("erp").local_url
    client_id: str = by_name("supplier").client_id
    # The largest document a supplier may attach (QMS applies its own limit and types as well).
    document_max_bytes: int = 10_485_760
