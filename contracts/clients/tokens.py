"""OAuth2 client credentials for service-to-service calls, cached until shortly before expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx


class TokenUnavailable(Exception):
    """The token endpoint could not be reached or refused the client."""


class ClientCredentials:
    """A `TokenProvider` (see `contracts.clients.base`) backed by the gateway's token endpoint."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str],
        *,
        refresh_margin: float = 30.0,
        timeout: float = 5.0,
        quiet_after_failure: float = 1.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = " ".join(scopes)
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self.quiet_after_failure = quiet_after_failure
        self._token = ""
        self._expires_at = 0.0
        self._failure: TokenUnavailable | None = None
        self._failed_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            if not self._token or time.monotonic() >= self._expires_at:
                # While the gateway is failing, callers queued behind the first one (and those
                # right after it) get its answer at once instead of asking again and again.
                if (
                    self._failure is not None
                    and time.monotonic() - self._failed_at < self.quiet_after_failure
                ):
                    raise self._failure
                try:
                    await self._fetch()
                except TokenUnavailable as exc:
                    self._failure, self._failed_at = exc, time.monotonic()
                    raise
                self._failure = None
        return self._token

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    self.token_url,
                    data={"grant_type": "client_credentials", "scope": self.scope},
                    auth=(self.client_id, self.client_secret),
                )
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"token endpoint {self.token_url}: {exc}") from exc
        if response.status_code != 200:
            raise TokenUnavailable(f"token endpoint answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 300))
        self._expires_at = time.monotonic() + max(1.0, lifetime - self.refresh_margin)
