"""HTTP for tests: clients (real httpx, to a service process over loopback or to an app served in
process; the test code is the same for both), the service-under-test bundle `Api`, and the
checks every API test makes of an answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from plantbridge.processes import ServiceProcess
from tests.support.inprocess import InProcess, Serve
from tests.support.tokens import bearer

Body = dict[str, Any]


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


@dataclass
class Api:
    """A service under test, its own database, and a client holding the caller's scopes."""

    service: InProcess | ServiceProcess
    database_url: str
    http: httpx.Client


@contextmanager
def api_in_process(
    serve: Serve,
    name: str,
    database_url: str,
    *,
    scopes: Sequence[str] | None = None,
    claims: Mapping[str, Any] | None = None,
    client_id: str = "test-client",
) -> Iterator[Api]:
    """`name` served in process on `database_url` until the block ends, with a client holding
    `scopes` (by default the service's own read and write scopes)."""
    service = serve(name, database_url=database_url)
    try:
        granted = scopes if scopes is not None else [f"{name}:read", f"{name}:write"]
        with client(service, scopes=granted, claims=claims, client_id=client_id) as http:
            yield Api(service, database_url, http)
    finally:
        service.stop()


def unique(prefix: str) -> str:
    """A record id no other test uses (tests of one module share a database)."""
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def ok(response: httpx.Response, status: int = 200) -> Body:
    assert response.status_code == status, response.text
    body: Body = response.json()
    return body


def problem(response: httpx.Response, status: int, slug: str) -> Body:
    """An RFC 9457 answer of our kind: its status, stable type and the request's correlation id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Body = response.json()
    assert body["type"] == f"urn:plantbridge:problem:{slug}", body
    assert body["status"] == status
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return body
