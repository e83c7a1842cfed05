"""Supplier portal HTTP surface: the supplier comes from the verified token, never from the request,
so no path, query or body can name another supplier."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from contracts.kit.app import runtime_of
from contracts.kit.auth import current_principal
from contracts.kit.documents import FileName, empty_document, file_operation
from contracts.kit.paging import Paged, body_date
from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.problems import Problem, Unprocessable
from contracts.kit.responses import problems, versioned
from contracts.kit.wire.documents import Document
from contracts.models import supplier as m
from experience_apis.supplier_portal import service
from experience_apis.supplier_portal.service import Upstreams

Up = NamedDependency[Upstreams]
SCOPES = {"scopes": ("supplier:portal",)}
MAX_PERIODS_SPAN = timedelta(days=3660)


class CaseStatus(StrEnum):
    ISSUED = "issued"
    RESPONSE_RECEIVED = "response_received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class InspectionResult(StrEnum):
    PENDING = "pending"
    PASS = "pass"
    FAIL = "fail"


def _who(request: Request[Any, Any, Any]) -> service.Supplier:
    return service.supplier(current_principal(request))


class CaseController(Controller):
    path = "/cases"
    tags = ["supplier quality cases"]
    opt = SCOPES

    @get(
        responses=problems(403, 422, 503),
        summary="My supplier quality cases",
        description="Only the token's supplier's cases; `updated_since` and `cursor` for delta sync.",
    )
    async def list(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        page_query: Paged,
        status: FromQuery[CaseStatus | None] = None,
    ) -> m.CasePage:
        return await service.list_cases(
            upstreams, _who(request), page_query, status.value if status else None
        )

    @get(
        "/{case_id:str}",
        responses=problems(403, 404, 503),
        summary="One case with its nonconformances and every response with its verdict",
    )
    async def get(
        self, request: Request[Any, Any, Any], upstreams: Up, case_id: PathId
    ) -> Response[m.CaseDetail]:
        case = await service.case_detail(upstreams, _who(request), case_id)
        return versioned(case)

    @post(
        "/{case_id:str}/response",
        status_code=200,
        responses=problems(403, 404, 409, 412, 422, 503),
        summary="Answer an issued case: containment, root cause, corrective action",
        description="409 when the case is not waiting for an answer; If-Match takes the case's ETag.",
    )
    async def respond(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        case_id: PathId,
        data: JSONBody[m.CaseResponse],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.CaseDetail]:
        case = await service.respond(upstreams, _who(request), case_id, data, if_match, idempotency_key)
        return versioned(case)


class InspectionController(Controller):
    path = "/inspections"
    tags = ["inspections"]
    opt = SCOPES

    @get(responses=problems(403, 422, 503), summary="Inspection results of my lots")
    async def list(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        page_query: Paged,
        result: FromQuery[InspectionResult | None] = None,
    ) -> m.InspectionPage:
        return await service.list_inspections(
            upstreams, _who(request), page_query, result.value if result else None
        )

    @get("/{inspection_lot_id:str}", responses=problems(403, 404, 503), summary="One inspection of my lots")
    async def get(
        self, request: Request[Any, Any, Any], upstreams: Up, inspection_lot_id: PathId
    ) -> Response[m.LotInspection]:
        lot = await service.inspection(upstreams, _who(request), inspection_lot_id)
        return versioned(lot)


class ScorecardController(Controller):
    path = "/scorecard"
    tags = ["scorecard"]
    opt = SCOPES

    @get(
        responses=problems(403, 422, 503),
        summary="My scorecard, in total and per period",
        description="From history only: received quantity as received (ERP goods receipts), rejected "
        "quantity as the usage decision moved it (QMS), reject rate in ppm, open cases, average days "
        "from issue to first response, and the share of answers given by the due date. Returning or "
        "using stock later changes none of it. `since`/`until` (dates, inclusive) bound the window; "
        "`period` adds one set of figures per month, quarter or year, lots in the period of their "
        "receipt. Without ERP the quantities are missing and `warnings` says so.",
    )
    async def get(
        self,
        request: Request[Any, Any, Any],
        upstreams: Up,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        period: FromQuery[m.Period | None] = None,
    ) -> m.Scorecard:
        since, until = body_date(since, "since"), body_date(until, "until")
        if since and until and until < since:
            raise Unprocessable(f"until {until} is before since {since}", slug="invalid-window")
        if period and since and (until or date.today()) - since > MAX_PERIODS_SPAN:
            raise Unprocessable("a breakdown by period covers at most ten years", slug="window-too-long")
        return await service.scorecard(upstreams, _who(request), since=since, until=until, period=period)


UPLOAD_CAP = 64 * 1024 * 1024  # what the server reads at all; the portal's own limit is a setting


# QMS decides what it keeps (its settings); these are the types its default accepts.
DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")


class DocumentController(Controller):
    path = "/documents"
    tags = ["documents"]
    opt = SCOPES

    @post(
        request_max_body_size=UPLOAD_CAP,
        # QMS decides what it keeps (its settings); these are the types its default accepts.
        operation_class=file_operation(
            ("application/pdf", "image/png", "image/jpeg", "text/plain"), takes=True
        ),
        responses=problems(403, 413, 415, 503),
        summary="Upload a document to attach to an answer (an 8D report, photos)",
        description="The body is the file, its Content-Type the file's type (PDF, PNG, JPEG or plain "
        "text); the answer's `document_id` goes into a response's `attachments`. QMS keeps it with "
        "its SHA-256; only you can attach it.",
    )
    async def upload(
        self, request: Request[Any, Any, Any], upstreams: Up, name: FileName
    ) -> Response[Document]:
        _who(request)
        limit = runtime_of(request.app).settings.document_max_bytes  # type: ignore[attr-defined]
        content = bytearray()
        async for chunk in request.stream():
            content += chunk
            if len(content) > limit:
                raise Problem(
                    f"Documents are limited to {limit} bytes.", status=413, slug="document-too-large"
                )
        if not content:  # QMS would refuse it too, but its 400 would reach the supplier as a 503
            raise empty_document()
        content_type = request.headers.get("content-type", "")
        document = await service.upload_document(upstreams, name, bytes(content), content_type)
        return Response(document, status_code=201)


ROUTES = [CaseController, DocumentController, InspectionController, ScorecardController]
