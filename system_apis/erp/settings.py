"""ERP settings, read from ERP_* environment variables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name

if TYPE_CHECKING:  # the connector is imported only when it is chosen
    from system_apis.erp.backends.tryton.settings import TrytonSettings


class ErpSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/erp.db"
    port: int = by_name("erp").port
    # The system of record behind the API (system_apis/erp/backends/): our own tables, or a Tryton
    # server reached over JSON-RPC (ERP_TRYTON_*; docs/connect-your-erp.md).
    backend: Literal["embedded", "tryton"] = "embedded"
    tryton_url: str = "http://127.0.0.1:8000"
    tryton_database: str = "tryton"
    tryton_user: str = "admin"
    tryton_password: str = ""
    tryton_locations: str = (
        "{}"  # JSON: {"WH1": {"unrestricted": ..., "quality_inspection": ..., "blocked": ...}}
    )
    tryton_poll_seconds: float = 1.0
    tryton_timeout_seconds: float = 10.0

    def tryton(self) -> TrytonSettings:
        from system_apis.erp.backends.tryton.settings import TrytonSettings, parse_location_map

        return TrytonSettings(
            url=self.tryton_url,
            database=self.tryton_database,
            user=self.tryton_user,
            password=self.tryton_password,
            locations=parse_location_map(self.tryton_locations),
            poll_seconds=self.tryton_poll_seconds,
            timeout_seconds=self.tryton_timeout_seconds,
        )
