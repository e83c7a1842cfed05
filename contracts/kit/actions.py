"""State changes that take no body, declared in one line each.

`POST /<records>/{id}/<action>` with If-Match and Idempotency-Key, answering the changed record
with its ETag, is the same handler for every record type and action; only the path parameter's
name, the change function and the documentation differ. Actions with a body (a reason, a
completion) stay ordinary handlers, where their body type is visible.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.responses import Versioned, problems, versioned
from contracts.kit.unit_of_work import Session

# change(session, record id, action, If-Match) -> the changed record as its wire type
Change = Callable[[AsyncSession, str, str, str | None], Awaitable[Versioned]]
# Unknown record 404, refused by the state machine 409, stale If-Match 412, unknown ids 422.
CHANGE = problems(404, 409, 412, 422)


def state_change(
    id_name: str,
    action: str,
    change: Change,
    returns: type[Versioned],
    *,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CHANGE,
) -> HTTPRouteHandler:
    """The controller's `POST /{<id_name>}/<action>` handler, named after the action."""

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        record = await change(arguments["session"], arguments[id_name], action, arguments["if_match"])
        return versioned(record)

    # Litestar reads parameters from the signature and their types from the annotations: give
    # the path parameter its documented name in both.
    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("session", keyword, annotation=Session),
            inspect.Parameter(id_name, keyword, annotation=PathId),
            inspect.Parameter("if_match", keyword, default=None, annotation=IfMatch),
            inspect.Parameter("idempotency_key", keyword, default=None, annotation=IdempotencyKey),
        ],
        return_annotation=Response[returns],  # type: ignore[valid-type]
    )
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values() if p.name != "self"},
        "return": signature.return_annotation,
    }
    handler.__name__ = handler.__qualname__ = action.replace("-", "_")
    return post(
        f"/{{{id_name}:str}}/{action}",
        status_code=200,
        responses=responses,
        summary=summary,
        description=description,
    )(handler)
