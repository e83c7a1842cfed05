"""Gateway settings, read from GATEWAY_* environment variables."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name

# What the gateway can make keys for (gateway/keys.py, `generate`).
SigningAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"]


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/gateway.db"
    port: int = by_name("gateway").port
    # The issuer this gateway signs as; also its public base URL for RFC 8414 metadata.
    # (`auth_issuer` from ServiceSettings names the issuer the gateway *trusts*; it defaults to
    # the same value, so the gateway accepts its own tokens with no network hop.)
    issuer: str = by_name("gateway").local_url
    public_url: str = ""  # defaults to `issuer`
    token_audience: str = "plantbridge"
    token_ttl_seconds: int = 900
    key_rotation_days: int = 30  # a signing key older than this is replaced on the next token issued
    # New keys are of this type; changed, the current key signs on (with its own algorithm) until a
    # key of the new type, made at the next rotation check and published ahead, takes over.
    key_algorithm: SigningAlgorithm = "RS256"
    # 32 bytes as base64url (`plantbridge gateway new-encryption-key`): seals the private signing
    # keys in the database. Without it they are stored as plain JWKs.
    key_encryption_key: str = ""
    key_reload_seconds: float = 30.0  # how soon a rotation made elsewhere (CLI, another process) is seen
    # A new signing key is in the JWKS this long before it signs: longer than any service keeps a
    # fetched key set (<SERVICE>_AUTH_JWKS_MAX_AGE_SECONDS, 300) plus key_reload_seconds.
    key_publish_ahead_seconds: float = 600.0
    # Upstreams: comma-separated `name=base_url`; unnamed services use the topology's ports.
    upstreams: str = ""
    upstream_timeout_seconds: float = 10.0
    upstream_connect_timeout_seconds: float = 2.0
    upstream_pool_size: int = 256
    # Circuit breaker per upstream: open after this many consecutive failures, for this long.
    breaker_failures: int = 5
    breaker_open_seconds: float = 10.0
    # Rate limits: per-route overrides `route=quota/window_seconds`, comma-separated.
    rate_limits: str = ""
    # Rate-limit and failed-login counters; default redis_url. They need no persistence: the
    # embedded platform gives them a Redis of their own without fsync.
    rate_limit_redis_url: str = ""
    # Counter Redis unreachable: count in each gateway process's memory (True), or answer 503 (False).
    rate_limit_fail_open: bool = True
    # Failed client authentications at the token and introspection endpoints: `quota/window_seconds`
    # per claimed client id and per source address; over either, 429 without checking the secret.
    token_failures_per_client: str = "10/300"
    token_failures_per_source: str = "30/300"
    # Comma-separated proxy addresses or CIDR blocks whose X-Forwarded-For names the real caller.
    trusted_proxies: str = ""
    cors_origins: str = ""  # comma-separated portal origins allowed to call from a browser
    access_log: bool = True
    # Processes serving requests (granian workers); each holds its own keys, breakers and pools,
    # while rate-limit counters and deprecation counts are shared in Redis.
    workers: Annotated[int, msgspec.Meta(ge=1)] = 1
