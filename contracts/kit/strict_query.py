"""Query parameters an operation does not declare are refused (400 naming them), never ignored.

A misspelt or unsupported filter (`?lot_id=` on a list that has no such filter) used to return
every record, which a client cannot tell from a correct answer. The names an operation takes
come from its own declaration, the parameters Litestar resolves for the route handler (its
signature and its dependencies, such as the paging parameters), so an endpoint added anywhere
gets the check without code. The app factory installs `StrictQueryMiddleware` in every API
router and calls `StrictQuery.learn(app)` once the routes exist; `document_strict_queries` says
in the OpenAPI document what the 400 then means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send

from contracts.kit import correlation
from contracts.kit.problems import PROBLEM_JSON, PROBLEM_URN, ProblemDetail

SLUG = "unknown-query-parameter"
DESCRIPTION_400 = (
    "The request is malformed or fails validation, or names a query parameter this operation does "
    f"not take (`{PROBLEM_URN}{SLUG}`, listing them in `unknown_parameters`)"
)
DESCRIPTION_422 = f"A path or query parameter holds a control character (`{PROBLEM_URN}control-characters`)"
_SHOWN = 10  # names echoed back at most (each cut to 64 characters): the answer stays small


@dataclass
class StrictQuery:
    """The query parameter names each route handler takes, learnt from the built app."""

    names: dict[int, frozenset[str]] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> StrictQuery:
        return self  # Litestar copies middleware arguments while building; all copies share one table

    def learn(self, app: Litestar) -> None:
        for handler, kwargs_model in _handlers(app):
            taken = {p.field_alias for p in kwargs_model.expected_query_params}
            self.names[id(handler)] = frozenset(taken)


def _handlers(app: Litestar) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            found.extend(route.route_handler_map.values())
    return found


def unknown_names(query_string: bytes, taken: frozenset[str]) -> list[str]:
    """The names in a query string that are not among `taken`, each once, in order."""
    if not query_string:
        return []
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return list(dict.fromkeys(name for name, _ in pairs if name not in taken))


@dataclass
class StrictQueryMiddleware:
    """Runs inside an API router, after routing (the handler is known), before any work."""

    app: ASGIApp
    strict: StrictQuery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken = self.strict.names.get(id(scope.get("route_handler")))
        if scope["type"] != ScopeType.HTTP or taken is None:
            await self.app(scope, receive, send)
            return
        unknown = unknown_names(scope.get("query_string", b""), taken)
        if not unknown:
            await self.app(scope, receive, send)
            return
        await send_refusal(send, scope["path"], unknown, taken)


async def send_refusal(send: Send, path: str, unknown: list[str], taken: frozenset[str]) -> None:
    shown = [name[:64] for name in unknown[:_SHOWN]]
    accepted = ", ".join(sorted(taken)) or "none"
    detail = (
        f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, shown))}; "
        f"this operation takes: {accepted}."
    )
    body = msgspec.to_builtins(
        ProblemDetail(
            type=PROBLEM_URN + SLUG,
            title="Unknown query parameter",
            status=400,
            detail=detail,
            instance=path,
            correlation_id=correlation.current().correlation_id,
        )
    )
    body.pop("extensions", None)
    body |= {"unknown_parameters": shown, "accepted_parameters": sorted(taken)}
    await send(
        {"type": "http.response.start", "status": 400, "headers": [(b"content-type", PROBLEM_JSON.encode())]}
    )
    await send({"type": "http.response.body", "body": msgspec.json.encode(body), "more_body": False})


def document_strict_queries(app: Litestar) -> None:
    """Say in the OpenAPI document what the request checks before any route answer: every
    operation that takes query parameters says its 400 also means an unknown one, and every one
    that takes path or query parameters that it may answer 422 to a control character in them
    (contracts/kit/http_limits.py). Call before the document is first built."""
    from contracts.kit.responses import problems

    for handler, kwargs_model in _handlers(app):
        responses = dict(handler.responses or {})
        if kwargs_model.expected_query_params:
            responses[400] = problems()[400]
            responses[400].description = DESCRIPTION_400
        if (kwargs_model.expected_query_params or kwargs_model.expected_path_params) and 422 not in responses:
            responses[422] = problems(422)[422]
            responses[422].description = DESCRIPTION_422
        handler.responses = responses


__all__ = ["SLUG", "StrictQuery", "StrictQueryMiddleware", "document_strict_queries", "unknown_names"]
