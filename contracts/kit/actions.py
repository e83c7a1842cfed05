"""Record handlers that are the same for every record type, declared in one statement each.

`GET /<records>` answering a page filtered by its query parameters, `GET /<records>/{id}`
answering the record with its ETag, `GET /<records>/{id}/<children>` answering a page of what is
kept under the record, `PATCH /<records>/{id}` taking the change and If-Match, and
`POST /<records>/{id}/<action>` with If-Match and Idempotency-Key (a state change, with or without
a body such as a reason, a line added to the record, or a record added under it) are the same
handler for every record type; only the path parameter's name, the service function, the wire
types and the documentation differ. `Handlers` declares them for one record type.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_type_hints

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.paging import Page, Paged, PageQuery
from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.responses import Versioned, problems, versioned
from contracts.kit.unit_of_work import Session

# create(session, the new record) -> the record as its wire type
Create = Callable[[AsyncSession, Any], Awaitable[Versioned]]
# read(session, record id) -> the record as its wire type
Read = Callable[[AsyncSession, str], Awaitable[Versioned]]
# update(session, record id, the change, If-Match) -> the changed record as its wire type
Update = Callable[[AsyncSession, str, Any, str | None], Awaitable[Versioned]]
# change(session, record id, action, If-Match, **what the body says) -> the changed record
Change = Callable[..., Awaitable[Versioned]]
# list(session, the page asked for, **the query's filters by parameter name) -> one page
List = Callable[..., Awaitable[Page[Any]]]
# apply(session, record id, the body, If-Match) -> the changed record as its wire type
Apply = Callable[[AsyncSession, str, Any, str | None], Awaitable[Versioned]]
# children(session, the record's id, the page asked for) -> one page of what is kept under it
Children = Callable[[AsyncSession, str, PageQuery], Awaitable[Page[Any]]]
# A duplicate id 409, unknown ids 422.
CREATE = problems(409, 422)
READ = problems(404)
LIST = problems(422)  # a malformed filter or cursor
CHILDREN = problems(404, 422)  # unknown record, a malformed cursor
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
    body: type[Any] | None = None,
    keywords: Callable[[Any], Mapping[str, Any]] | None = None,
    name: str | None = None,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CHANGE,
) -> HTTPRouteHandler:
    """The controller's `POST /{<id_name>}/<action>` handler, named after the action: `change`
    is called with the action's name (`-` written `_`) and, where the action takes a `body`, with
    the body's fields as keyword arguments, or with the ones `keywords` makes of the body where the
    service's words differ from the body's."""
    step = action.replace("-", "_")
    to_keywords = keywords or msgspec.structs.asdict

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        said = to_keywords(arguments["data"]) if body is not None else {}
        record = await change(arguments["session"], arguments[id_name], step, arguments["if_match"], **said)
        return versioned(record)

    parameters = [("session", Session), (id_name, PathId)]
    if body is not None:
        parameters.append(("data", JSONBody[body]))  # type: ignore[misc, valid-type]
    _sign(handler, name or step, [*parameters, *_IF_MATCH_AND_KEY], returns)
    return _post_on_record(id_name, action, handler, responses, summary, description)


def record_post(
    id_name: str,
    path: str,
    apply: Apply,
    body: type[Any],
    returns: type[Versioned],
    *,
    created: bool = False,
    name: str | None = None,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CHANGE,
) -> HTTPRouteHandler:
    """The controller's `POST /{<id_name>}/<path>` handler that applies `body` to the record (a
    line, a posting) under If-Match and Idempotency-Key, named after the path unless `name` says
    otherwise: the changed record; or, `created`, what `body` added under the record (a
    confirmation, a batch), 201 with its Location the collection it joined."""

    async def handler(self: object, **arguments: Any) -> Response[Versioned]:
        session, record_id = arguments["session"], arguments[id_name]
        answer = await apply(session, record_id, arguments["data"], arguments["if_match"])
        if not created:
            return versioned(answer)
        return versioned(answer, status_code=201, location=arguments["request"].url.path.rstrip("/"))

    parameters = [("session", Session), (id_name, PathId), ("data", JSONBody[body])]  # type: ignore[misc, valid-type]
    if created:
        parameters.insert(0, ("request", Request[Any, Any, Any]))
    _sign(handler, name or path.replace("-", "_"), [*parameters, *_IF_MATCH_AND_KEY], returns)
    return _post_on_record(id_name, path, handler, responses, summary, description, 201 if created else 200)


def record_list(
    list_: List,
    returns: type[Versioned],
    filters: type,
    *,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = LIST,
) -> HTTPRouteHandler:
    """The controller's `GET` handler on its collection, named `list`: one page of `returns`.
    `filters` is a class whose annotations name the query parameters and their types, in order
    (none is required); `list_` takes the page asked for and the filters by those names."""
    kinds = get_type_hints(filters, include_extras=True)

    async def handler(self: object, **arguments: Any) -> Page[Any]:
        given = {name: arguments[name] for name in kinds}
        return await list_(arguments["session"], arguments["page_query"], **given)

    parameters = [("session", Session), ("page_query", Paged)]
    _sign(
        handler, "list", [*parameters, *((name, kind, None) for name, kind in kinds.items())], returns, Page
    )
    return get(responses=responses, summary=summary, description=description)(handler)


def record_children(
    id_name: str,
    path: str,
    list_: Children,
    returns: type[Any],
    *,
    name: str | None = None,
    summary: str,
    description: str | None = None,
    responses: dict[int, ResponseSpec] = CHILDREN,
) -> HTTPRouteHandler:
    """The controller's `GET /{<id_name>}/<path>` handler, named after the path unless `name`
    says otherwise: one page of `returns`, the records kept under the record
    (`repository.lister_of`); 404 when the record is not there."""

    async def handler(self: object, **arguments: Any) -> Page[Any]:
        return await list_(arguments["session"], arguments[id_name], arguments["page_query"])

    parameters = [("session", Session), (id_name, PathId), ("page_query", Paged)]
    _sign(handler, name or path.replace("-", "_"), parameters, returns, Page)
    return get(f"/{{{id_name}:str}}/{path}", responses=responses, summary=summary, description=description)(
        handler
    )


@dataclass(frozen=True, slots=True)
class Handlers:
    """The handlers of one record type's controller, which share the path parameter's name
    (`id_name`), the wire type the record is answered as, and the service function that applies
    its state changes (`change`), so each handler names only what is its own."""

    id_name: str
    returns: type[Versioned]
    change: Change | None = None

    def create(self, create: Create, body: type[Any], **options: Any) -> HTTPRouteHandler:
        return record_create(self.id_name, create, body, self.returns, **options)

    def get(self, read: Read, **options: Any) -> HTTPRouteHandler:
        return record_get(self.id_name, read, self.returns, **options)

    def list(self, list_: List, filters: type, **options: Any) -> HTTPRouteHandler:
        return record_list(list_, self.returns, filters, **options)

    def update(self, update: Update, body: type[Any], **options: Any) -> HTTPRouteHandler:
        return record_update(self.id_name, update, body, self.returns, **options)

    def action(self, action: str, change: Change | None = None, **options: Any) -> HTTPRouteHandler:
        applied = change or self.change
        if applied is None:
            raise TypeError(f"{action}: no change function, neither given nor the controller's")
        return state_change(self.id_name, action, applied, self.returns, **options)

    def post(self, path: str, apply: Apply, body: type[Any], **options: Any) -> HTTPRouteHandler:
        return record_post(self.id_name, path, apply, body, self.returns, **options)

    def add(
        self, path: str, add: Apply, body: type[Any], returns: type[Versioned], **options: Any
    ) -> HTTPRouteHandler:
        return record_post(self.id_name, path, add, body, returns, created=True, **options)

    def children(self, path: str, list_: Children, returns: type[Any], **options: Any) -> HTTPRouteHandler:
        return record_children(self.id_name, path, list_, returns, **options)


_IF_MATCH_AND_KEY = [("if_match", IfMatch, None), ("idempotency_key", IdempotencyKey, None)]


def _post_on_record(
    id_name: str,
    path: str,
    handler: Callable[..., Awaitable[Response[Versioned]]],
    responses: dict[int, ResponseSpec],
    summary: str,
    description: str | None,
    status_code: int = 200,
) -> HTTPRouteHandler:
    """`POST /{<id_name>}/<path>` answering `status_code` (200 with the changed record)."""
    return post(
        f"/{{{id_name}:str}}/{path}",
        status_code=status_code,
        responses=responses,
        summary=summary,
        description=description,
    )(handler)


def _sign(
    handler: Callable[..., Awaitable[Any]],
    name: str,
    parameters: Sequence[tuple[str, Any] | tuple[str, Any, None]],
    returns: type[Any],
    answer: Any = Response,
) -> None:
    """Litestar reads parameters from the signature and their types from the annotations: give
    the handler keyword parameters in this order (a third item: its default), under their
    documented names, in both; and its name, which the operation id is made of. The handler
    answers `answer[returns]`: a `Response` with its ETag, or a `Page` of them."""
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
        return_annotation=answer[returns],
    )
    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values() if p.name != "self"},
        "return": signature.return_annotation,
    }
    handler.__name__ = handler.__qualname__ = name
