"""Operations experience settings, read from OPERATIONS_* environment variables."""

from __future__ import annotations

from contracts.kit.settings import CallerSettings
from contracts.topology import by_name


class OperationsSettings(CallerSettings, frozen=True, kw_only=True):
    # No records of its own: the database holds only the kernel's Idempotency-Key table (replays).
    database_url: str = "sqlite+aiosqlite:///data/operations.db"
    port: int = by_name("operations").port
    outbox_relay: bool = False  # publishes no events
    erp_url: str = by_name("erp").local_url
    qms_url: str = by_name("qms").local_url
    cmms_url: str = by_name("cmms").local_url
    mes_url: str = by_name("mes").local_url
    quality_url: str = by_name("quality").local_url
    maintenance_url: str = by_name("maintenance").local_url
    webhooks_url: str = by_name("webhooks").local_url
    shopfloor_url: str = by_name("shopfloor").local_url
    client_id: str = by_name("operations").client_id
    # Records changed longer ago than this are not searched for drift (keeps each check bounded).
    lookback_days: int = 90
    # A consumer group is listed when its unread plus pending messages exceed this.
    lag_threshold: int = 100
    # The state file of `plantbridge up`'s supervisor (set by it): the process-restarts monitor.
    supervisor_state_file: str = ""
    # The Prometheus gauges are refreshed this often (0: only when the monitors are asked for).
    refresh_seconds: float = 30.0
    # The console's session cookie is sealed (AES-GCM) with this key: 32 bytes as 64 hex digits.
    # Empty: a random key per process, so sessions end when the service restarts.
    console_secret: str = ""
    # The console logs people in at `auth_token_url` (the gateway's token endpoint).
    console_session_minutes: int = 480
    # Mark the session cookie Secure (set when the console is served over HTTPS).
    console_secure_cookie: bool = False
