"""The HTTP server limits are settings with safe defaults, refused when no server could apply them."""

from __future__ import annotations

import pytest

from contracts.kit.settings import HttpServerSettings, SettingsError, load_settings


def test_the_defaults_bound_every_slow_or_greedy_client() -> None:
    limits = load_settings(HttpServerSettings, "ERP", env={})
    assert limits.http_max_header_bytes == 16_384
    assert limits.http_header_timeout_seconds == 10
    assert (limits.http_body_timeout_seconds, limits.http_body_min_bytes_per_second) == (10, 1024)
    assert limits.http_max_connections_per_client == 512


def test_the_limits_come_from_the_services_variables() -> None:
    env = {"GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS": "2.5", "GATEWAY_HTTP_MAX_CONNECTIONS_PER_CLIENT": "0"}
    limits = load_settings(HttpServerSettings, "GATEWAY", env=env)
    assert (limits.http_header_timeout_seconds, limits.http_max_connections_per_client) == (2.5, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_HEADER_TIMEOUT_SECONDS", "61"),  # granian reads headers for at most 60 s
        ("HTTP_HEADER_TIMEOUT_SECONDS", "0"),
        ("HTTP_MAX_HEADER_BYTES", "4096"),  # granian's read buffer is at least 8 KiB
        ("HTTP_BODY_TIMEOUT_SECONDS", "0"),
        ("HTTP_BODY_MIN_BYTES_PER_SECOND", "0"),
        ("HTTP_MAX_CONNECTIONS_PER_CLIENT", "-1"),
    ],
)
def test_a_limit_no_server_can_apply_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        load_settings(HttpServerSettings, "ERP", env={f"ERP_{name}": value})
