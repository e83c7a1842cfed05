"""Webhooks service settings, read from WEBHOOKS_* environment variables."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec

from contracts.kit.settings import CallerSettings
from contracts.topology import by_name

Positive = Annotated[float, msgspec.Meta(gt=0)]


class WebhooksSettings(CallerSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/webhooks.db"
    port: int = by_name("webhooks").port
    outbox_relay: bool = False  # publishes no events
    # --- delivery (outbound) ---
    # Seconds before each attempt, the first after the event (Standard Webhooks and Svix: about a
    # day in all). The last one failing makes the message `failed`. Tests shorten it.
    retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    retry_jitter: Annotated[float, msgspec.Meta(ge=0, le=0.5)] = 0.2  # ± this share of each delay
    request_timeout_seconds: Positive = 15.0  # the receiver's whole answer (the spec: 15-30 s)
    connect_timeout_seconds: Positive = 5.0
    # An endpoint failing without a single success for this long is disabled (Svix: 5 days).
    disable_after_hours: Positive = 120.0
    # After a rotation the previous secret keeps signing (beside the new one) for this long.
    secret_overlap_hours: Positive = 24.0
    # 32 bytes as base64url: seals the signing secrets in the database. Empty: stored plain.
    secret_encryption_key: str = ""
    # Endpoints must be public https URLs. Comma-separated CIDRs an endpoint may resolve into
    # anyway (e.g. a supplier's system over the plant's VPN); plain http only if allowed.
    allowed_networks: str = ""
    allow_http: bool = False
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 256  # deliveries at once
    endpoint_concurrency: Annotated[int, msgspec.Meta(ge=1, le=256)] = 16  # at once per endpoint
    max_response_bytes: int = 65_536  # a receiver's longer answer is a failed attempt
    poll_seconds: Positive = 1.0  # how often other processes' work is looked for
    # --- inbound ---
    sources_file: str = ""  # TOML: the configured sources and their mappings (docs/webhooks.md)
    timestamp_tolerance_seconds: Annotated[int, msgspec.Meta(ge=1, le=300)] = 300
    qms_url: str = by_name("qms").local_url
    # This service's own OAuth2 client at the gateway, for the commands inbound webhooks map to.
    client_id: str = by_name("webhooks").client_id

    def __post_init__(self) -> None:
        self.schedule  # noqa: B018  # a malformed schedule stops the service at start

    @property
    def schedule(self) -> tuple[float, ...]:
        try:
            delays = tuple(float(part) for part in self.retry_schedule.split(",") if part.strip())
        except ValueError:
            delays = ()
        if not delays or any(d < 0 for d in delays):
            raise ValueError(
                "WEBHOOKS_RETRY_SCHEDULE must be comma-separated seconds, at least one, none < 0"
            )
        return delays

    @property
    def disable_after(self) -> timedelta:
        return timedelta(hours=self.disable_after_hours)

    @property
    def secret_overlap(self) -> timedelta:
        return timedelta(hours=self.secret_overlap_hours)
