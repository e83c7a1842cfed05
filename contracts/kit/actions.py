"""Record handlers that are the same for every record type, declared in one statement each.

`GET /<records>/{id}` answering the record with its ETag, `PATCH /<records>/{id}` taking the
change and If-Match, and `POST /<records>/{id}/<action>` with If-Match and Idempotency-Key (a
state change without a body) are the same handler for every record type; only the path
parameter's name, the service function, the wire types and the documentation differ. Actions
with a body of their own (a reason, a completion) stay ordinary handlers, where their body type
is visible.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar import Request, Response, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.responses import Versioned, problems, versioned
from contracts.kit.unit_of_work import Session

# create(session, the new record) -> the record as its wire type
Create = Callable[[AsyncSession, Any], Awaitable[Versioned]]
# read(session, record id) -> the record as its wire type
Read = Callable[[AsyncSession, str], Awaitable[Versioned]]
# update(session, record id, the change, If-Match) -> the changed record as its wire type
Update = Callable[[AsyncSession, str, Any, str | None], Awaitable[Versioned]]
# change(session, record id, action, If-Match) -> the changed record as its wire type
Change = Callable[[AsyncSession, str, str, str | None], Awaitable[Versioned]]
# A duplicate id 409, unknown ids 422.
CREATE = problems(409, 422)
READ = problems(404)
# Unknown record 404, refused by the state machine 409, stale If-Match 412, unknown ids 422.
CHANGE = problems(404, 409, 412, 422)


def record_create(
    id_name: str,
    create: Create,
    body: type[Any],
    returns: type[Versioned],
    *,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CREATE,
) -> HTTPRouteHandler:
    """The controller's `POST` handler on its collection, named `create`: `body` makes a record,
    answered 201 with its ETag and its Location, the collection's path and the new record's
    `id_name`. Takes an Idempotency-Key, like every POST."""

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        record = await create(arguments["session"], arguments["data"])
        location = f"{arguments['request'].url.path.rstrip('/')}/{getattr(record, id_name)}"
        return versioned(record, status_code=201, location=location)

    parameters = [("request", Request[Any, Any, Any]), ("session", Session), ("data", JSONBody[body])]  # type: ignore[misc, valid-type]
    _sign(handler, "create", [*parameters, ("idempotency_key", IdempotencyKey, None)], returns)
    return post(responses=responses, summary=summary, description=description)(handler)


def record_get(
    id_name: str,
    read: Read,
    returns: type[Versioned],
    *,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = READ,
) -> HTTPRouteHandler:
    """The controller's `GET /{<id_name>}` handler, named `get`: the record with its ETag."""

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        return versioned(await read(arguments["session"], arguments[id_name]))

    _sign(handler, "get", [("session", Session), (id_name, PathId)], returns)
    return get(f"/{{{id_name}:str}}", responses=responses, summary=summary, description=description)(handler)


def record_update(
    id_name: str,
    update: Update,
    body: type[Any],
    returns: type[Versioned],
    *,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CHANGE,
) -> HTTPRouteHandler:
    """The controller's `PATCH /{<id_name>}` handler, named `update`: `body` changes the record
    whose ETag If-Match names; the changed record with its new ETag."""

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        session, record_id = arguments["session"], arguments[id_name]
        return versioned(await update(session, record_id, arguments["data"], arguments["if_match"]))

    parameters = [("session", Session), (id_name, PathId), ("data", JSONBody[body])]  # type: ignore[misc, valid-type]
    _sign(handler, "update", [*parameters, ("if_match", IfMatch, None)], returns)
    return patch(f"/{{{id_name}:str}}", responses=responses, summary=summary, description=description)(
        handler
    )


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

    parameters = [("session", Session), (id_name, PathId)]
    optional = [("if_match", IfMatch, None), ("idempotency_key", IdempotencyKey, None)]
    _sign(handler, action.replace("-", "_"), [*parameters, *optional], returns)
    return post(
        f"/{{{id_name}:str}}/{action}",
        status_code=200,
        responses=responses,
        summary=summary,
        description=description,
    )(handler)


def _sign(
    handler: Callable[..., Awaitable[Response[Versioned]]],
    name: str,
    parameters: Sequence[tuple[str, Any] | tuple[str, Any, None]],
    returns: type[Versioned],
) -> None:
    """Litestar reads parameters from the signature and their types from the annotations: give
    the handler keyword parameters in this order (a third item: its default), under their
    documented names, in both; and its name, which the operation id is made of."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(
                inspect.Parameter(
                    name, keyword, annotation=annotation, default=rest[0] if rest else inspect.Parameter.empty
                )
                for name, annotation, *rest in parameters
            ),
        ],
        return_annotation=Response[returns],  # type: ignore[valid-type]
    )
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values() if p.name != "self"},
        "return": signature.return_annotation,
    }
    handler.__name__ = handler.__qualname__ = name
