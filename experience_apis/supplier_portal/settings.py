"""Supplier portal settings, read from SUPPLIER_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import ServiceSettings


class SupplierSettings(ServiceSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table, so a
    # resent request replays its first answer.
    database_url: str = "sqlite+aiosqlite:///data/supplier.db"
    port: int = 8302
    outbox_relay: bool = False  # publishes no events
    qms_url: str = "http://127.0.0.1:8102"
    erp_url: str = "http://127.0.0.1:8101"
    # This service's own OAuth2 client at the gateway, for its calls to the layers below.
    client_id: str = "supplier-portal"
    client_secret: str = ""
    upstream_timeout_seconds: float = 5.0
    # The largest document a supplier may attach (QMS applies its own limit and types as well).
    document_max_bytes: int = 10_485_760
