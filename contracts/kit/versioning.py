"""API major versions: extra versions mounted beside a service's first one, and the deprecation
of an old version (RFC 9745 `Deprecation`, RFC 8594 `Sunset`, a `successor-version` Link), which
turns into 410 Gone with a problem naming the successor once the sunset has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.problems import problem_bytes


@dataclass(frozen=True)
class ApiVersion:
    """One more major version of a service, served at its own path by the same app."""

    api_path: str  # e.g. "/qms/v2"
    api_version: str  # e.g. "2.0.0": the document's info.version
    routes: Sequence[ControllerRouterHandler]


@dataclass(frozen=True)
class Deprecation:
    """`api_path` is deprecated since `since`; after `sunset` (if set) it answers 410."""

    api_path: str
    successor: str  # the path of the version that replaces it, e.g. "/qms/v2"
    since: datetime
    sunset: datetime | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False)

    def headers(self) -> list[tuple[bytes, bytes]]:
        # RFC 9745: a structured-field Date (`@` + Unix seconds); RFC 8594: an HTTP-date.
        values = [
            (b"deprecation", f"@{int(_utc(self.since).timestamp())}".encode()),
            (b"link", f'<{self.successor}>; rel="successor-version"'.encode()),
        ]
        if self.sunset is not None:
            values.append((b"sunset", format_datetime(_utc(self.sunset), usegmt=True).encode()))
        return values

    def gone(self) -> bool:
        return self.sunset is not None and self.clock() >= _utc(self.sunset)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class DeprecationMiddleware:
    """Runs in the deprecated version's router, before authentication, so every answer of that
    version (401s included) carries the headers, and a sunset version is gone for everybody."""

    app: ASGIApp
    deprecation: Deprecation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.deprecation.headers()
        if self.deprecation.gone():
            successor = self.deprecation.successor
            detail = f"{self.deprecation.api_path} was retired; use {successor} instead."
            problem = msgspec.json.decode(
                problem_bytes(410, "version-sunset", "API version is past its sunset", detail)
            )
            body = msgspec.json.encode({**problem, "successor_version": successor})
            headers = [(b"content-type", b"application/problem+json"), *extra]
            await send({"type": "http.response.start", "status": 410, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def document_deprecation(app: Litestar, deprecation: Deprecation) -> None:
    """Mark every operation of the deprecated version `deprecated` and document its 410."""
    from contracts.kit.responses import problems

    prefix = deprecation.api_path + "/"
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(prefix):
            continue
        if route.path.startswith(f"{deprecation.api_path}/schema"):
            continue
        for handler, _ in route.route_handler_map.values():
            handler.deprecated = True
            handler.responses = {**problems(410), **(handler.responses or {})}


__all__ = ["ApiVersion", "Deprecation", "DeprecationMiddleware", "document_deprecation"]
