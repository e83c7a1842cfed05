"""HTTP clients for tests: real httpx over loopback to a service process."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from plantbridge.processes import ServiceProcess


def client(service: ServiceProcess | str, *, scopes: Sequence[str] | None = None, timeout: float = 10.0) -> httpx.Client:
    """A client for one service. `scopes` names what the caller may do once tokens are checked;
    every test asks for its client here so authentication is wired in one place."""
    base_url = service if isinstance(service, str) else service.url
    return httpx.Client(base_url=base_url, timeout=timeout)
