"""Quality process HTTP surface: start flows by API, and the flow store (list, timeline, retry, cancel)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from contracts.clients.answers import UPSTREAM_ERRORS, unavailable
from contracts.kit.acting import acting
from contracts.kit.auth import current_principal
from contracts.kit.flows.api import approval_controller, flow_controller, shown_flow
from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, Paged, check_if_match
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.patterns import whole
from contracts.kit.problems import Unprocessable
from contracts.kit.repository import get_or_404, list_page
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.kit.wire.flows import Flow
from contracts.models import quality as m
from process_apis.quality import reconciliation, starts, traceability
from process_apis.quality.deps import Upstreams
from process_apis.quality.flow_types import FLOW_TYPES
from process_apis.quality.flows import SOURCE
from process_apis.quality.store import DisagreementRow

STARTED = problems(422)
ReconcileMode = Literal["report", "repair"]


class StartController(Controller):
    path = "/flows"
    tags = ["flows"]

    @post("/receipt-inspection", responses=STARTED, summary="Start an inspection for a received lot")
    async def receipt_inspection(
        self,
        session: Session,
        data: JSONBody[m.ReceiptInspectionStart],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Flow]:
        body = msgspec.to_builtins(data) | {"origin": "goods_receipt", "source_ref": data.receipt_id}
        return await shown_flow(
            session, await starts.start_receipt_inspection(session, body, None), FLOW_TYPES, 201
        )

    @post(
        "/usage-decision",
        responses=problems(409, 422, 503),
        summary="Apply a QMS usage decision to stock",
        description="Acts on the decision QMS holds for the inspection lot: a body naming another (lot, "
        "item, code, disposition or who decided) is 409 decision-not-recorded, an unknown inspection lot "
        "422. Where the plant's rules want a second person's approval, neither the one who decided nor "
        "the caller may give it.",
    )
    async def usage_decision(
        self,
        request: Request[Any, Any, Any],
        session: Session,
        upstreams: NamedDependency[Upstreams],
        data: JSONBody[m.UsageDecisionStart],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Flow]:
        caller = acting(current_principal(request))
        body = await starts.decision_held_by_qms(upstreams.qms, data, caller.key() if caller else None)
        return await shown_flow(
            session, await starts.start_usage_decision(session, body, None), FLOW_TYPES, 201
        )

    @post("/production-inspection", responses=STARTED, summary="Receive a finished batch for inspection")
    async def production_inspection(
        self,
        session: Session,
        data: JSONBody[m.ProductionInspectionStart],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Flow]:
        kept_quantity(data.quantity)  # ERP could not receive it, and the flow would stall
        flow_id = await starts.start_production_inspection(session, msgspec.to_builtins(data), None)
        return await shown_flow(session, flow_id, FLOW_TYPES, 201)

    @post("/nc-disposition", responses=STARTED, summary="Apply a nonconformance disposition to stock")
    async def nc_disposition(
        self, session: Session, data: JSONBody[m.NcDispositionStart], idempotency_key: IdempotencyKey = None
    ) -> Response[Flow]:
        if data.quantity is not None:
            kept_quantity(data.quantity)  # ERP could not move it
        flow_id = await starts.start_nc_disposition(session, msgspec.to_builtins(data), None)
        return await shown_flow(session, flow_id, FLOW_TYPES, 201)


class DisagreementController(Controller):
    path = "/disagreements"
    tags = ["reconciliation"]

    @get(
        responses=problems(422),
        summary="List what reconciliation found out of step between QMS, ERP and MES",
        description="Filter by status (open, repairing, repaired, resolved), lot or kind.",
    )
    async def list_disagreements(
        self,
        session: Session,
        page_query: Paged,
        status: FromQuery[m.DisagreementStatus | None] = None,
        kind: FromQuery[m.DisagreementKind | None] = None,
        lot_id: QueryId = None,
    ) -> Page[m.Disagreement]:
        return await list_page(
            session, DisagreementRow, reconciliation.view, page_query, status=status, kind=kind, lot_id=lot_id
        )

    @get("/{disagreement_id:str}", responses=problems(404), summary="Get a disagreement and its repair")
    async def get_disagreement(self, session: Session, disagreement_id: PathId) -> Response[m.Disagreement]:
        row = await get_or_404(session, DisagreementRow, disagreement_id, "disagreement")
        return versioned(reconciliation.view(row))

    @post(
        "/{disagreement_id:str}/repair",
        status_code=200,
        responses=problems(404, 409, 412, 422),  # 422: an Idempotency-Key reused for another request
        summary="Repair a disagreement now",
        description="Starts its repair flow: the lot's stock is re-blocked or released in ERP, or its MES "
        "batches set to what QMS decided, through the decision flows' own idempotent steps. 409 "
        "when it is resolved or a repair is running.",
    )
    async def repair(
        self,
        session: Session,
        disagreement_id: PathId,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Disagreement]:
        row = await get_or_404(session, DisagreementRow, disagreement_id, "disagreement", lock=True)
        check_if_match(if_match, row.version)
        await reconciliation.start_repair(session, row)
        return versioned(reconciliation.view(row))


@post(
    "/reconciliation/runs",
    tags=["reconciliation"],
    status_code=200,
    responses=problems(422, 503),
    summary="Run a reconciliation pass now",
    description="Compares each decided lot in QMS with ERP stock and MES batches, records what is out of "
    "step and, in repair mode, starts the repairs. `mode` defaults to the service's setting "
    "(QUALITY_RECONCILE_MODE), which the periodic pass every QUALITY_RECONCILE_SECONDS uses.",
)
async def run_reconciliation(
    request: Request[Any, Any, Any], session: Session, mode: FromQuery[ReconcileMode | None] = None
) -> m.ReconciliationRun:
    job: reconciliation.Job = request.app.state["reconciliation"]
    try:
        return await job.run(session, mode)
    except UPSTREAM_ERRORS as exc:  # QMS did not list its decisions: nothing was compared
        raise unavailable("qms", exc) from exc


SupplierLot = Annotated[
    str | None,
    QueryParameter(
        min_length=1, max_length=200, pattern=whole(r"[^\x00]*"), description="The supplier's own lot number"
    ),
]


class TraceabilityController(Controller):
    path = "/traceability"
    tags = ["traceability"]

    @get(
        responses=problems(404, 422, 503),
        summary="Recall in one call: where lots went and where they came from",
        description="Name a supplier's lot number (every lot received under it) or one of our lots. "
        "`where_used` follows them down through production at any depth (the orders that used them, "
        "the lots those made, ...), `where_from` up to what went into them. Each lot comes with its "
        "stock per location and status, what was received, issued, scrapped and returned, and its "
        "inspections and nonconformances; each order with its inputs and outputs. At most "
        "`max_lots` lots are described (`truncated` says when more were reached).",
    )
    async def trace(
        self,
        upstreams: NamedDependency[Upstreams],
        supplier_lot: SupplierLot = None,
        lot_id: QueryId = None,
        direction: FromQuery[m.TraceDirection] = m.TraceDirection.BOTH,
        max_depth: Annotated[int, QueryParameter(ge=1, le=50, description="Orders along a path")] = 10,
        max_lots: Annotated[int, QueryParameter(ge=1, le=2000, description="Lots described")] = 500,
    ) -> m.Traceability:
        if (supplier_lot is None) == (lot_id is None):
            raise Unprocessable("name either supplier_lot or lot_id", slug="one-lot-required")
        return await traceability.trace(
            upstreams,
            supplier_lot=supplier_lot,
            lot_id=lot_id,
            direction=direction,
            max_depth=max_depth,
            max_lots=max_lots,
        )


# quality.v1 has always taken these filters too (the console searches every process by work order):
# no quality flow carries them, so they find nothing, as they always did.
KEPT_FILTERS = ("equipment_id", "work_order_id", "asset_id")
ROUTES: list[ControllerRouterHandler] = [
    StartController,
    TraceabilityController,
    flow_controller(FLOW_TYPES, also_filter_by=KEPT_FILTERS),
    DisagreementController,
    run_reconciliation,
    approval_controller(FLOW_TYPES, service="quality", source=SOURCE),
]
