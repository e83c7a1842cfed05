"""QMS HTTP surface: Struct in, one service call, Struct out.

State changes are POSTs on the record (`/{id}/start`, `/{id}/close`, ...); each takes If-Match
with the record's ETag and an Idempotency-Key, and answers an illegal move with a 409 problem
naming the current state.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody

from contracts.kit.actions import Handlers
from contracts.kit.paging import Page, Paged
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.responses import Versioned, problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import qms as m
from contracts.models.common import Name
from system_apis.qms import capas, nonconformances, service, supplier_cases

Q = Paged
API = "/qms/v1"
MOVE = problems(404, 409, 412, 422)


Lot = TypeVar("Lot", bound=Versioned)


def _noted(data: m.TransitionNote) -> dict[str, str | None]:
    """A transition's note is the reason the record keeps for it."""
    return {"by": data.by, "reason": data.note}


def _checked(data: m.EffectivenessCheckInput) -> dict[str, m.EffectivenessCheckInput]:
    return {"check": data}


class InspectionLots(Controller, Generic[Lot]):
    """Inspection lots over one set of use cases, for every API version: a version gives the lot's
    wire type and maps v1's lot to it (`view`). Litestar reads these annotations as text, so a
    version names its type for `Lot` in `signature_namespace`."""

    path = "/inspection-lots"
    tags = ["inspection lots"]

    def view(self, lot: m.InspectionLot) -> Lot:
        raise NotImplementedError

    def _show(
        self, lot: m.InspectionLot, *, status_code: int = 200, location: str | None = None
    ) -> Response[Lot]:
        return versioned(self.view(lot), status_code=status_code, location=location)

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
    ) -> Response[Lot]:
        lot = await service.create_inspection_lot(session, data)
        return self._show(lot, status_code=201, location=f"{request.url.path}/{lot.inspection_lot_id}")

    @get(responses=problems(422), summary="List inspection lots")
    async def list(
        self,
        session: Session,
        page_query: Q,
        status: FromQuery[m.InspectionLotStatus | None] = None,
        origin: FromQuery[m.InspectionOrigin | None] = None,
        result: FromQuery[m.LotResult | None] = None,
        item_id: QueryId = None,
        lot_id: QueryId = None,
        supplier_id: QueryId = None,
        source_ref: QueryId = None,
    ) -> Page[Lot]:
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
        return Page(items=[self.view(lot) for lot in page.items], next_cursor=page.next_cursor)

    @get("/{inspection_lot_id:str}", responses=problems(404), summary="Get an inspection lot")
    async def get(self, session: Session, inspection_lot_id: PathId) -> Response[Lot]:
        return self._show(await service.get_inspection_lot(session, inspection_lot_id))

    @post("/{inspection_lot_id:str}/start", status_code=200, responses=MOVE, summary="Start inspecting")
    async def start(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.TransitionNote],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Lot]:
        return self._show(await service.start_inspection(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/results",
        status_code=200,
        responses=MOVE,
        summary="Record results for characteristics",
        description="Each result is judged against its limits; any failed characteristic fails the lot. "
        "The lot is results_recorded once every characteristic has a result; results may be "
        "corrected until the usage decision.",
    )
    async def results(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.ResultsRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Lot]:
        return self._show(await service.record_results(session, inspection_lot_id, data, if_match))

    @post(
        "/{inspection_lot_id:str}/usage-decision",
        status_code=200,
        responses=MOVE,
        summary="Make or change the usage decision",
        description="A change before stock is posted adds a revision; earlier decisions stay in "
        "`decisions`. Releasing a failed lot is refused: decide use_as_is for a concession.",
    )
    async def decide(
        self,
        session: Session,
        inspection_lot_id: PathId,
        data: JSONBody[m.UsageDecisionCreate],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Lot]:
        return self._show(await service.make_usage_decision(session, inspection_lot_id, data, if_match))

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
    ) -> Response[Lot]:
        return self._show(await service.mark_stock_posted(session, inspection_lot_id, data, if_match))

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
    ) -> Response[Lot]:
        return self._show(await service.close_inspection_lot(session, inspection_lot_id, data, if_match))

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
    ) -> Response[Lot]:
        return self._show(await service.cancel_inspection_lot(session, inspection_lot_id, data, if_match))


class InspectionLotController(InspectionLots[m.InspectionLot]):
    signature_namespace = {"Lot": m.InspectionLot}

    def view(self, lot: m.InspectionLot) -> m.InspectionLot:
        return lot


DEFECT_CODES = Handlers("code", m.DefectCode)


class DefectCodeFilters:
    category: FromQuery[Name | None]


class DefectCodeController(Controller):
    path = "/defect-codes"
    tags = ["defect codes"]

    create = DEFECT_CODES.create(
        service.create_defect_code, m.DefectCodeCreate, summary="Add a defect code to the catalogue"
    )

    list = DEFECT_CODES.list(
        service.list_defect_codes,
        DefectCodeFilters,
        summary="List the defect-code catalogue",
    )

    get = DEFECT_CODES.get(service.get_defect_code, summary="Get a defect code")


NONCONFORMANCES = Handlers("nc_id", m.Nonconformance, nonconformances.move_nonconformance)


class NonconformanceFilters:
    status: FromQuery[m.NcStatus | None]
    severity: FromQuery[m.Severity | None]
    equipment_id: QueryId
    lot_id: QueryId
    supplier_id: QueryId
    item_id: QueryId
    production_order_id: QueryId
    inspection_lot_id: QueryId
    defect_code: QueryId


class NonconformanceController(Controller):
    path = "/nonconformances"
    tags = ["nonconformances"]

    create = NONCONFORMANCES.create(
        nonconformances.create_nonconformance,
        m.NonconformanceCreate,
        summary="Report a nonconformance",
        description="defect_codes must be in the catalogue; inspection_lot_id must exist.",
        responses=problems(422),
    )

    list = NONCONFORMANCES.list(
        nonconformances.list_nonconformances,
        NonconformanceFilters,
        summary="List nonconformances",
    )

    get = NONCONFORMANCES.get(nonconformances.get_nonconformance, summary="Get a nonconformance")

    update = NONCONFORMANCES.update(
        nonconformances.update_nonconformance,
        m.NonconformanceUpdate,
        summary="Change a nonconformance (disposition, codes, links, plan, evaluation)",
        description="Closed or cancelled nonconformances no longer change (409); reopen first.",
    )

    start_analysis = NONCONFORMANCES.action(
        "start-analysis",
        body=m.TransitionNote,
        keywords=_noted,
        summary="open → under_analysis",
        responses=MOVE,
    )

    plan_action = NONCONFORMANCES.action(
        "plan-action",
        body=m.ActionPlan,
        summary="under_analysis → action_planned (needs an action plan)",
        responses=MOVE,
    )

    start = NONCONFORMANCES.action(
        "start",
        body=m.TransitionNote,
        keywords=_noted,
        summary="action_planned → in_progress (needs an action plan)",
        responses=MOVE,
    )

    close = NONCONFORMANCES.action(
        "close",
        body=m.Effectiveness,
        summary="in_progress → closed (needs an effectiveness note)",
        responses=MOVE,
    )

    cancel = NONCONFORMANCES.action(
        "cancel", body=m.Reason, summary="Cancel an open nonconformance", responses=MOVE
    )

    reopen = NONCONFORMANCES.action(
        "reopen",
        body=m.Reason,
        summary="closed → in_progress; closing again needs a new effectiveness note",
        responses=MOVE,
    )


SUPPLIER_CASES = Handlers("case_id", m.SupplierCase, supplier_cases.move_supplier_case)


class SupplierCaseFilters:
    supplier_id: QueryId
    status: FromQuery[m.SupplierCaseStatus | None]
    nc_id: QueryId


class SupplierCaseController(Controller):
    path = "/supplier-cases"
    tags = ["supplier cases"]

    create = SUPPLIER_CASES.create(
        supplier_cases.create_supplier_case,
        m.SupplierCaseCreate,
        summary="Open a supplier quality case (SCAR)",
        description="Linked nonconformances must exist and must not name another supplier.",
        responses=problems(422),
    )

    list = SUPPLIER_CASES.list(
        supplier_cases.list_supplier_cases,
        SupplierCaseFilters,
        summary="List supplier quality cases",
    )

    get = SUPPLIER_CASES.get(supplier_cases.get_supplier_case, summary="Get a supplier quality case")

    update = SUPPLIER_CASES.update(
        supplier_cases.update_supplier_case, m.SupplierCaseUpdate, summary="Change a supplier quality case"
    )

    issue = SUPPLIER_CASES.action(
        "issue",
        body=m.TransitionNote,
        keywords=_noted,
        summary="Issue the case to the supplier (open or rejected → issued)",
        responses=MOVE,
    )

    @post(
        "/{case_id:str}/response",
        status_code=200,
        responses=MOVE,
        summary="Record the supplier's response (containment, root cause, corrective action)",
    )
    async def respond(
        self,
        session: Session,
        case_id: PathId,
        data: JSONBody[m.SupplierResponseCreate],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.SupplierCase]:
        return versioned(
            await supplier_cases.move_supplier_case(session, case_id, "respond", if_match, response=data)
        )

    accept = SUPPLIER_CASES.action(
        "accept", body=m.Acceptance, summary="Accept the supplier's response", responses=MOVE
    )

    reject = SUPPLIER_CASES.action(
        "reject",
        body=m.Reason,
        summary="Reject the supplier's response with a reason; issue the case again after",
        responses=MOVE,
    )

    close = SUPPLIER_CASES.action(
        "close", body=m.TransitionNote, keywords=_noted, summary="Close an accepted case", responses=MOVE
    )

    cancel = SUPPLIER_CASES.action("cancel", body=m.Reason, summary="Cancel the case", responses=MOVE)


CAPAS = Handlers("capa_id", m.Capa, capas.move_capa)


class CapaFilters:
    status: FromQuery[m.CapaStatus | None]
    kind: FromQuery[m.CapaKind | None]
    nc_id: QueryId


class CapaController(Controller):
    path = "/capas"
    tags = ["capa"]

    create = CAPAS.create(
        capas.create_capa,
        m.CapaCreate,
        summary="Create a corrective or preventive action (as a draft)",
        responses=problems(422),
    )

    list = CAPAS.list(
        capas.list_capas,
        CapaFilters,
        summary="List CAPAs",
    )

    get = CAPAS.get(capas.get_capa, summary="Get a CAPA")

    update = CAPAS.update(
        capas.update_capa,
        m.CapaUpdate,
        summary="Change a CAPA (actions, owner, due date, cause and correction codes)",
    )

    open = CAPAS.action(
        "open", body=m.TransitionNote, keywords=_noted, summary="draft → open", responses=MOVE
    )

    implement = CAPAS.action(
        "implement",
        body=m.TransitionNote,
        keywords=_noted,
        summary="open → implemented (needs at least one action, all done)",
        responses=MOVE,
    )

    verify = CAPAS.action(
        "verify",
        body=m.EffectivenessCheckInput,
        keywords=_checked,
        summary="implemented → verified: the effectiveness check found the action effective",
        responses=MOVE,
    )

    reopen = CAPAS.action(
        "reopen",
        body=m.EffectivenessCheckInput,
        keywords=_checked,
        summary="implemented → open: the effectiveness check found the action not effective",
        responses=MOVE,
    )

    close = CAPAS.action(
        "close", body=m.TransitionNote, keywords=_noted, summary="verified → closed", responses=MOVE
    )

    cancel = CAPAS.action("cancel", body=m.Reason, summary="Cancel a draft or open CAPA", responses=MOVE)


ROUTES = [
    InspectionLotController,
    DefectCodeController,
    NonconformanceController,
    SupplierCaseController,
    CapaController,
]
