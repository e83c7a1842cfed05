"""Technician HTTP surface: who is calling comes from the verified token, never from the request."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from contracts.kit.auth import current_principal
from contracts.kit.paging import Paged, etag
from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.responses import problems, versioned
from contracts.models import technician as m
from experience_apis.technician import service
from experience_apis.technician.service import Upstreams

Up = NamedDependency[Upstreams]
SCOPES = {"scopes": ("technician:app",)}
NOT_MODIFIED = {304: ResponseSpec(data_container=None, description="Not modified (If-None-Match matched)")}
CHANGE = problems(404, 409, 412, 422, 503)


def _fresh(request: Request[Any, Any, Any], tag: str) -> bool:
    """True when the client already holds this representation (RFC 9110 §13.1.2)."""
    wanted = request.headers.get("if-none-match")
    if wanted is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in tags or tag in tags


def _cached(request: Request[Any, Any, Any], body: Any, tag: str) -> Response[Any]:
    if _fresh(request, tag):
        return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
    return Response(body, headers={"ETag": tag})


class TechnicianController(Controller):
    path = "/"
    tags = ["my work"]
    opt = SCOPES

    @get(
        "/my-work",
        responses={**problems(403, 422, 503), **NOT_MODIFIED},
        summary="My work orders, each with asset, history, nonconformance and spare parts",
        description="Work orders assigned to the token's person at the token's site. "
        "Delta sync: send the last "
        "`updated_at` seen as `updated_since`; page with `cursor`. If-None-Match gives 304 when "
        "nothing changed. When QMS or ERP cannot answer, the rest comes with `warnings`.",
    )
    async def my_work(
        self, request: Request[Any, Any, Any], upstreams: Up, page_query: Paged
    ) -> Response[m.MyWork]:
        who = service.technician(current_principal(request))
        work = await service.my_work(upstreams, who, page_query)
        return _cached(request, work, service.body_etag(work))

    @get(
        "/work-orders/{wo_id:str}",
        responses={**problems(403, 404, 503), **NOT_MODIFIED},
        summary="One of my work orders",
        description="ETag is the work order's version (send it as If-Match to change it). "
        "Another technician's "
        "or another site's order is 404.",
    )
    async def work_order(
        self, request: Request[Any, Any, Any], upstreams: Up, wo_id: PathId
    ) -> Response[m.WorkItem]:
        item = await service.work_item(upstreams, service.technician(current_principal(request)), wo_id)
        return _cached(request, item, etag(item.version))

    @post(
        "/work-orders/{wo_id:str}/start",
        status_code=200,
        responses=CHANGE,
        summary="Start work, or resume it after a pause",
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        wo_id: PathId,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkItem]:
        who = service.technician(current_principal(request))
        return versioned(await service.start(upstreams, who, wo_id, if_match, idempotency_key))

    @post(
        "/work-orders/{wo_id:str}/pause",
        status_code=200,
        responses=CHANGE,
        summary="Pause work, with a reason",
    )
    async def pause(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        wo_id: PathId,
        data: JSONBody[m.Pause],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkItem]:
        who = service.technician(current_principal(request))
        return versioned(await service.pause(upstreams, who, wo_id, data, if_match, idempotency_key))

    @post(
        "/work-orders/{wo_id:str}/complete",
        status_code=200,
        responses=CHANGE,
        summary="Complete work: parts, labor, cause and correction codes in one request",
        description="Hands the order to the maintenance completion flow (ERP parts issue and costs). "
        "Resending "
        "with the same Idempotency-Key replays the first answer and never posts twice. A stale "
        "If-Match is 412 with the current version. A completion CMMS would refuse (409 for an "
        "order not started; 422 for a corrective order without cause_code and correction_code, "
        "or an actual_end before the start) records nothing: correct it and send it as a new "
        "request. After a 503 the work may be partly recorded: resend the same request with the "
        "same key, and what was recorded is not recorded again.",
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        wo_id: PathId,
        data: JSONBody[m.Completion],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkItem]:
        who = service.technician(current_principal(request))
        return versioned(await service.complete(upstreams, who, wo_id, data, if_match, idempotency_key))


ROUTES = [TechnicianController]
