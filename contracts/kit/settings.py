"""Settings read from environment variables into frozen Structs, inside each app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import msgspec


class HttpServerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of every service's HTTP server and of the gateway's (contracts/kit/http_limits.py,
    docs/decisions/http-server-limits.md): a client that sends its request slowly, or too much of
    it, or too many at once, is cut off without holding anything that others need."""

    # Request line and headers together; over it, 431. (Above 16 KiB the gateway's server allows
    # up to 1.5 times this: hyper grows its read buffer in steps.)
    http_max_header_bytes: Annotated[int, msgspec.Meta(ge=8192, le=1_048_576)] = 16_384
    # The request line and headers must arrive within this from when the connection opens (on a
    # kept-alive connection, from the next request's first byte); otherwise 408 and close.
    http_header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    # The body must arrive within this, extended by one second per `http_body_min_bytes_per_second`
    # bytes received: a client trickling its body is cut off (408), a slow but steady one is not.
    http_body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    http_body_min_bytes_per_second: Annotated[int, msgspec.Meta(ge=1)] = 1024
    # Requests in progress at once from one client address (an HTTP/1.1 connection carries one at
    # a time); over it, 429. 0 turns the cap off (behind a load balancer that caps per source).
    http_max_connections_per_client: Annotated[int, msgspec.Meta(ge=0)] = 512


class ServiceSettings(HttpServerSettings, frozen=True, kw_only=True):
    """What every service needs; a service adds its own fields by subclassing."""

    database_url: str
    # How long a request waits for one of the database's pooled connections (SQLite has one)
    # before it is answered 503 with Retry-After instead of waiting on (contracts/kit/problems.py).
    database_pool_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    # Running migrations at start is right for the embedded platform and compose; a fleet
    # with many replicas may prefer a separate `plantbridge migrate` step.
    migrate_on_start: bool = True
    max_body_bytes: int = 1_048_576
    # How deeply a JSON body may nest arrays and objects (contracts/kit/strict_body.py).
    json_max_depth: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 32
    idempotency_ttl_hours: int = 24
    # Publish this service's outbox to Redis Streams from inside the service (contracts/kit/relay.py).
    outbox_relay: bool = True
    # How long published events stay replayable: outbox rows, stream entries no consumer group
    # still needs, and consumers' inbox rows (contracts/kit/relay.py).
    event_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7.0
    # Bearer tokens (contracts/kit/auth.py). The gateway is the default issuer; `auth_issuers`
    # adds external identity providers as comma-separated `issuer=jwks_url` pairs (http(s) or file).
    auth_issuer: str = "http://127.0.0.1:8000"
    auth_jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    auth_issuers: str = ""
    auth_audience: str = "plantbridge"  # comma-separated audiences this service accepts
    auth_leeway_seconds: int = 30
    auth_jwks_refresh_seconds: float = 30.0  # least time between refetches on an unknown kid
    # Longest a fetched key set is trusted before it is fetched again; the gateway publishes a new
    # signing key longer than this before it signs (GATEWAY_KEY_PUBLISH_AHEAD_SECONDS).
    auth_jwks_max_age_seconds: float = 300.0
    auth_token_url: str = "http://127.0.0.1:8000/oauth2/token"  # named in the OpenAPI document
    # Comma-separated client ids of `auth_issuer` whose platform headers (X-Flow-ID,
    # X-Causation-ID) are believed (contracts/kit/platform_headers.py); `plantbridge serve` fills
    # in the platform's own clients. Nobody else's are.
    platform_clients: str = ""
    # OpenTelemetry tracing (contracts/kit/tracing.py): off unless an OTLP/HTTP collector's base
    # URL is given here or in the standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
    otlp_endpoint: str = ""

    @property
    def event_retention(self) -> timedelta:
        return timedelta(days=self.event_retention_days)


class CallerSettings(ServiceSettings, frozen=True, kw_only=True):
    """What a service that calls other services' APIs adds: it calls them as its own OAuth2 client
    of `auth_issuer` (tokens from `auth_token_url`; contracts/clients/outbound.py). A subclass
    names its client by default."""

    client_id: str
    client_secret: str = ""
    upstream_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0  # each request to an upstream


class FlowSettings(CallerSettings, frozen=True, kw_only=True):
    """What a service that runs durable flows adds (contracts/kit/flows)."""

    flow_max_attempts: int = 8
    flow_max_backoff_seconds: float = 30.0
    # A runner leases each flow it runs for this long and renews the lease every third of it while
    # a step runs; when a runner dies, another (or another replica) takes its flows over once the
    # lease lapses. Shorter: faster takeover, more renewals (one UPDATE per running step each time).
    flow_lease_seconds: Annotated[float, msgspec.Meta(ge=3)] = 15.0


S = TypeVar("S", bound=msgspec.Struct)


class SettingsError(ValueError):
    """A setting in the environment is missing or has the wrong shape."""


def load_settings(cls: type[S], prefix: str, env: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """Build `cls` from `<PREFIX>_<FIELD>` variables; explicit overrides win."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        key = f"{prefix}_{field.name}".upper()
        if key in source:
            values[field.name] = source[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{prefix} settings: {exc}") from exc
