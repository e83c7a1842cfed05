"""HTTP clients for tests: real httpx over loopback to a service process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from plantbridge.processes import ServiceProcess
from tests.support.tokens import bearer


def auth_headers(
    scopes: Sequence[str] | None = None,
    *,
    claims: Mapping[str, Any] | None = None,
    client_id: str = "test-client",
) -> dict[str, str]:
    """Headers that authenticate a caller holding `scopes` (a token from the test issuer every
    launched service trusts); `None` means an anonymous caller. `claims` adds e.g. supplier_id,
    person_id or site."""
    if scopes is None:
        return {}
    return bearer(scopes, client_id=client_id, **dict(claims or {}))


def client(
    service: ServiceProcess | str,
    *,
    scopes: Sequence[str] | None = None,
    claims: Mapping[str, Any] | None = None,
    client_id: str = "test-client",
    timeout: float = 10.0,
) -> httpx.Client:
    """A client for one service, carrying a token with `scopes` (none: anonymous). Every test
    asks for its client here so authentication is wired in one place."""
    base_url = service if isinstance(service, str) else service.url
    return httpx.Client(
        base_url=base_url, timeout=timeout, headers=auth_headers(scopes, claims=claims, client_id=client_id)
    )
