"""QMS v2 HTTP surface (`/qms/v2`): v1's inspection-lot routes with the lot mapped to structured
measurements and results taken as measurements; every other resource is served by the same
controllers as v1 (their shapes did not change)."""

from __future__ import annotations

from litestar import Response, get, post
from litestar.params import JSONBody

from contracts.kit.params import IdempotencyKey, IfMatch, PathId
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.models import qms as m
from contracts.models import qms_v2 as m2
from system_apis.qms import routes as v1
from system_apis.qms import service
from system_apis.qms.views_v2 import inspection_lot, results_record


class InspectionLotController(v1.InspectionLots[m2.InspectionLot]):
    """Where v2 words a route differently, or takes another body, the route is declared again."""

    signature_namespace = {"Lot": m2.InspectionLot}

    def view(self, lot: m.InspectionLot) -> m2.InspectionLot:
        return inspection_lot(lot)

    @get(
        "/{inspection_lot_id:str}",
        responses=problems(404),
        summary="Get an inspection lot",
        description="Numeric results are measurements: value and unit with their uncertainty and interval.",
    )
    async def get(self, session: Session, inspection_lot_id: PathId) -> Response[m2.InspectionLot]:
        return self._show(await service.get_inspection_lot(session, inspection_lot_id))

    @post(
        "/{inspection_lot_id:str}/results",
        status_code=200,
        responses=v1.MOVE,
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
        return self._show(lot)

    @post(
        "/{inspection_lot_id:str}/usage-decision",
        status_code=200,
        responses=v1.MOVE,
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
        return self._show(await service.make_usage_decision(session, inspection_lot_id, data, if_match))


ROUTES = [InspectionLotController, *(c for c in v1.ROUTES if c is not v1.InspectionLotController)]
