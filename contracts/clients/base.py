"""The one way a Plantbridge service calls another's API: typed, traced, retried, guarded.

Every call carries the current correlation id and traceparent; writes carry an Idempotency-Key
so a retry can never post twice; transient failures (connection errors, 5xx, 429) are retried
with exponential backoff; a circuit breaker stops hammering an upstream that is down. A problem
answer from the upstream becomes `UpstreamProblem` with the decoded RFC 9457 document.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import httpx
import msgspec

from contracts.kit import correlation, tracing
from contracts.kit.breaker import CircuitBreaker
from contracts.kit.paging import Page

T = TypeVar("T")
TokenProvider = Callable[[], Awaitable[str]]
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class UpstreamProblem(Exception):
    """The upstream answered with a problem (4xx, or 5xx after retries)."""

    def __init__(self, service: str, status: int, problem: dict[str, Any]) -> None:
        self.service = service
        self.status = status
        self.problem = problem
        self.slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
        super().__init__(f"{service} answered {status} {self.slug}: {problem.get('detail', '')}")


class UpstreamUnavailable(Exception):
    """The upstream could not be reached (or its circuit is open); the call may be retried later."""


class ApiClient:
    service: ClassVar[str]  # the upstream's name, for errors and the circuit breaker

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenProvider | None = None,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.1,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.token = token
        self.attempts = attempts
        self.backoff = backoff
        self.breaker = breaker or CircuitBreaker(self.service)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(self, path: str, result: type[T], params: dict[str, Any] | None = None) -> T:
        response = await self._send("GET", path, params=params)
        return msgspec.json.decode(response.content, type=result)

    async def get_all(self, path: str, item: type[T], params: dict[str, Any] | None = None) -> list[T]:
        """Every item of a keyset-paginated list, following `next_cursor` to the end."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        found: list[T] = []
        while True:
            page = await self.get(path, Page[item], query)  # type: ignore[valid-type]
            found.extend(page.items)
            if not page.next_cursor:
                return found
            query["cursor"] = page.next_cursor

    async def post(
        self,
        path: str,
        body: msgspec.Struct | None,
        result: type[T],
        *,
        idempotency_key: str,
        if_match: str | None = None,
    ) -> T:
        headers = {"Idempotency-Key": idempotency_key, "Content-Type": "application/json"}
        if if_match:
            headers["If-Match"] = if_match
        content = msgspec.json.encode(body) if body is not None else b"{}"
        response = await self._send("POST", path, content=content, headers=headers)
        return msgspec.json.decode(response.content, type=result)

    async def patch(
        self, path: str, body: msgspec.Struct, result: type[T], *, if_match: str | None = None
    ) -> T:
        headers = {"Content-Type": "application/json", **({"If-Match": if_match} if if_match else {})}
        response = await self._send("PATCH", path, content=msgspec.json.encode(body), headers=headers)
        return msgspec.json.decode(response.content, type=result)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**correlation.outgoing_headers(), **kwargs.pop("headers", {})}
        last_error: Exception | None = None
        for attempt in range(self.attempts):
            try:
                self.breaker.before_call()
            except Exception as exc:
                raise UpstreamUnavailable(str(exc)) from exc
            if self.token is not None:
                headers["Authorization"] = f"Bearer {await self.token()}"
            try:
                with tracing.client(method, self.service, self.http.base_url, path, headers, attempt) as span:
                    response = await self.http.request(method, path, headers=headers, **kwargs)
                    tracing.client_result(span, response.status_code)
            except httpx.TransportError as exc:
                self.breaker.failed()
                last_error = exc
            else:
                if response.status_code < 500 and response.status_code not in RETRYABLE_STATUS:
                    self.breaker.succeeded()
                    if response.status_code >= 400:
                        raise UpstreamProblem(self.service, response.status_code, _problem(response))
                    return response
                self.breaker.failed()
                last_error = UpstreamProblem(self.service, response.status_code, _problem(response))
            if attempt + 1 < self.attempts:
                await asyncio.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))
        if isinstance(last_error, UpstreamProblem) and last_error.status < 500:
            raise last_error
        raise UpstreamUnavailable(f"{self.service} {method} {path}: {last_error}") from last_error


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return body if isinstance(body, dict) else {"detail": str(body)[:500]}
