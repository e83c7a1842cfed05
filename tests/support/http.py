"""HTTP clients for tests: real httpx, to a service process over loopback or to an app served
in process (tests/support/inprocess.py); the test code is the same for both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from plantbridge.processes import ServiceProcess
from tests.support.inprocess import InProcess
from tests.support.tokens import bearer


def auth_headers(
    scopes: Sequence[str] | None = None,
    *,
    claims: Mapping[str, Any] | None = None,
    client_id: str = "test-client",
) -> dict[str, str]:
    """Headers that authenticate a caller holding `scopes` (a token from the test issuer every
    service under test trusts); `None` means an anonymous caller. `claims` adds e.g. supplier_id,
    person_id or site."""
    if scopes is None:
        return {}
    return bearer(scopes, client_id=client_id, **dict(claims or {}))


def client(
    service: ServiceProcess | InProcess | str,
    *,
    scopes: Sequence[str] | None = None,
    claims: Mapping[str, Any] | None = None,
    client_id: str = "test-client",
    timeout: float = 10.0,
) -> httpx.Client:
    """A client for one service, carrying a token with `scopes` (none: anonymous). Every test
    asks for its client here so authentication is wired in one place."""
    headers = auth_headers(scopes, claims=claims, client_id=client_id)
    if isinstance(service, InProcess):
        return service.client(headers=headers, timeout=timeout)
    base_url = service if isinstance(service, str) else service.url
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
