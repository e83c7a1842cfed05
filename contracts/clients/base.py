"""The one way a Plantbridge service calls another's API: typed, traced, retried, guarded.

Every call carries the current correlation id and traceparent; writes carry an Idempotency-Key
so a retry can never post twice; transient failures (connection errors, 5xx, 429) are retried
with exponential backoff; a circuit breaker stops hammering an upstream that is down. A problem
answer from the upstream becomes `UpstreamProblem` with the decoded RFC 9457 document.

Requests go out through a `Transport` (contracts/kit/http1.py): by default a pool of keep-alive
HTTP/1.1 connections to `base_url`; a test hands in `contracts.clients.testing.MockTransport`
to script answers and failures without sockets.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, NamedTuple, TypeVar
from urllib.parse import quote, urlencode

import msgspec

from contracts.kit import correlation, http1, tracing
from contracts.kit.breaker import CircuitBreaker
from contracts.kit.paging import Page
from contracts.kit.problems import RemoteProblem

T = TypeVar("T")
TokenProvider = Callable[[], Awaitable[str]]
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_PATH_SAFE = "/:@!$&'()*+,;=%~"  # RFC 3986 path characters, and escapes already made


class UpstreamProblem(RemoteProblem):
    """The upstream answered with a problem (4xx, or 5xx after retries)."""


class UpstreamUnavailable(Exception):
    """The upstream could not be reached (or its circuit is open); the call may be retried later."""

    def __init__(self, message: str, service: str = "", *, attempted: bool = True) -> None:
        super().__init__(message)
        self.service = service
        self.attempted = attempted  # False: its circuit is open, no call was made


class Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


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
        connections: int = 32,
        ssl_context: ssl.SSLContext | None = None,
        transport: http1.Transport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport or http1.Pool(
            self.base_url,
            size=connections,
            connect_timeout=min(timeout, 5.0),
            timeout=timeout,
            ssl_context=ssl_context,
        )
        self.token = token
        self.attempts = attempts
        self.backoff = backoff
        self.breaker = breaker or CircuitBreaker(self.service)

    async def aclose(self) -> None:
        self.transport.close()

    async def get(self, path: str, result: type[T], params: dict[str, Any] | None = None) -> T:
        answer = await self._send("GET", _target(path, params))
        return msgspec.json.decode(answer.body, type=result)

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
        answer = await self._send("POST", _target(path), content, headers)
        return msgspec.json.decode(answer.body, type=result)

    async def upload(
        self, path: str, content: bytes, content_type: str, result: type[T], params: dict[str, Any]
    ) -> T:
        """POST a body that is not JSON (a document), once: a retry would resend all of it."""
        headers = {"Content-Type": content_type}
        answer = await self._send("POST", _target(path, params), content, headers, 1)
        return msgspec.json.decode(answer.body, type=result)

    async def patch(
        self, path: str, body: msgspec.Struct, result: type[T], *, if_match: str | None = None
    ) -> T:
        headers = {"Content-Type": "application/json", **({"If-Match": if_match} if if_match else {})}
        answer = await self._send("PATCH", _target(path), msgspec.json.encode(body), headers)
        return msgspec.json.decode(answer.body, type=result)

    async def _send(
        self,
        method: str,
        target: str,
        content: bytes = b"",
        extra: dict[str, str] | None = None,
        attempts: int | None = None,
    ) -> Answer:
        headers = {**correlation.outgoing_headers(), **(extra or {})}
        last_error: Exception | None = None
        attempts = attempts or self.attempts
        for attempt in range(attempts):
            try:
                self.breaker.before_call()
            except Exception as exc:
                raise UpstreamUnavailable(str(exc), self.service, attempted=False) from exc
            if self.token is not None:
                headers["Authorization"] = f"Bearer {await self.token()}"
            try:
                with tracing.client(method, self.service, self.base_url, target, headers, attempt) as span:
                    answer = Answer(
                        *await self.transport.request(method, target.encode(), _raw(headers), content)
                    )
                    tracing.client_result(span, answer.status)
            except (http1.Unavailable, TimeoutError) as exc:
                self.breaker.failed()
                last_error = exc
            else:
                if answer.status < 500 and answer.status not in RETRYABLE_STATUS:
                    self.breaker.succeeded()
                    if answer.status >= 400:
                        raise UpstreamProblem(self.service, answer.status, _problem(answer))
                    return answer
                self.breaker.failed()
                last_error = UpstreamProblem(self.service, answer.status, _problem(answer))
            if attempt + 1 < attempts:
                await asyncio.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))
        if isinstance(last_error, UpstreamProblem) and last_error.status < 500:
            raise last_error
        reason = last_error or "no answer"
        if isinstance(last_error, TimeoutError):
            reason = "timed out"
        raise UpstreamUnavailable(f"{self.service} {method} {target}: {reason}", self.service) from last_error


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def segment(value: str) -> str:
    """`value` as one segment of a path: a `/`, `%`, `?` or `#` in it is escaped, so an id can
    never name another path (`X/../Y`) whatever a caller passes. The clients put every id into
    their paths through it."""
    return quote(value, safe="")


def _target(path: str, params: dict[str, Any] | None = None) -> str:
    """The request target: the path percent-encoded where it must be (a record id with a space),
    then the query, booleans as `true`/`false` (what the APIs' query parsers read) and a list as
    the parameter repeated once per value."""
    target = quote(path, safe=_PATH_SAFE)
    pairs = [
        (k, _query_value(value))
        for k, v in (params or {}).items()
        if v is not None
        for value in (v if isinstance(v, list | tuple) else (v,))
    ]
    return f"{target}?{urlencode(pairs)}" if pairs else target


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _problem(answer: Answer) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(answer.body)
    except msgspec.DecodeError:
        return {"detail": answer.body[:500].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {"detail": str(body)[:500]}
