"""QMS v2 HTTP surface (`/qms/v2`): inspection lots with structured measurements; every other
resource is served by the same controllers as v1 (their shapes did not change)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody

from contracts.kit.paging import Page
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import qms as m
from contracts.models import qms_v2 as m2
from system_apis.qms import routes as v1
from system_apis.qms import service
from system_apis.qms.views_v2 import inspection_lot, results_record

MOVE = v1.MOVE


def _lot(lot: m.InspectionLot, **kwargs: Any) -> Response[m2.InspectionLot]:
    return versioned(inspection_lot(lot), **kwargs)


class InspectionLotController(Controller):
    path = "/inspection-lots"
    tags = ["inspection lots"]

    @post(
        responses=problems(409, 422),
        summary="Create an inspection lot with its characteristics",
        description="numeric characteristics need a unit and min_value and/or max_value; attribute ones "
        "pass or fail. A second open lot for the same origin, source_ref and lot is a 409.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: Session,
        data: JSONBody[m.InspectionLotCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        lot = await service.create_inspection_lot(session, data)
        return _lot(lot, status_code=201, location=f"{request.url.path}/{lot.inspection_lot_id}")

    @get(responses=problems(422), summary="List inspection lots")
    async def list(
        self,
        session: Session,
        page_query: v1.Q,
        status: FromQuery[m.InspectionLotStatus | None] = None,
        origin: FromQuery[m.InspectionOrigin | None] = None,
        result: FromQuery[m.LotResult | None] = None,
        item_id: QueryId = None,
        lot_id: QueryId = None,
        supplier_id: QueryId = None,
        source_ref: QueryId = None,
    ) -> Page[m2.InspectionLot]:
        page = await service.list_inspection_lots(
            session,
            page_query,
            status=status,
            origin=origin,
            result=result,
            item_id=item_id,
            lot_id=lot_id,
            supplier_id=supplier_id,
            source_ref=source_ref,
        )
        return Page(items=[inspection_lot(lot) for lot in page.items], next_cursor=page.next_cursor)

    @get(
        "/{inspection_lot_id:str}",
        responses=problems(404),
        summary="Get an inspection lot",
        description="Numeric results are measurements: value and unit with their uncertainty and interval.",
    )
    async def get(self, session: Session, inspection_lot_id: PathId) -> Response[m2.InspectionLot]:
        return _lot(await service.get_inspection_lot(session, inspection_lot_id))

    @post("/{inspection_lot_id:str}/start", status_code=200, responses=MOVE, summary="Start inspecting")
    async def start(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.TransitionNote],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        return _lot(await service.start_inspection(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/results",
        status_code=200,
        responses=MOVE,
        summary="Record results as measurements",
        description="numeric characteristics take a measurement (value, unit and optional uncertainty in "
        "that unit), attribute ones take conforming. Each result is judged against its limits.",
    )
    async def results(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m2.ResultsRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        lot = await service.record_results(session, inspection_lot_id, results_record(data), if_match)
        return _lot(lot)

    @post(
        "/{inspection_lot_id:str}/usage-decision",
        status_code=200,
        responses=MOVE,
        summary="Make or change the usage decision",
    )
    async def decide(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.UsageDecisionCreate],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        return _lot(await service.make_usage_decision(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/stock-posted",
        status_code=200,
        responses=MOVE,
        summary="Record that ERP moved the stock as decided",
    )
    async def stock_posted(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.StockPosted],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        return _lot(await service.mark_stock_posted(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/close", status_code=200, responses=MOVE, summary="Close the inspection lot"
    )
    async def close(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.TransitionNote],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        return _lot(await service.close_inspection_lot(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/cancel",
        status_code=200,
        responses=MOVE,
        summary="Cancel the inspection lot (only before a usage decision)",
    )
    async def cancel(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.Reason],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m2.InspectionLot]:
        return _lot(await service.cancel_inspection_lot(session, inspection_lot_id, data, if_match))


ROUTES = [InspectionLotController, *(c for c in v1.ROUTES if c is not v1.InspectionLotController)]
