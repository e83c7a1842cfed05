"""Quality process HTTP surface: start flows by API, and the flow store (list, timeline, retry, cancel)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, post
from litestar.params import JSONBody
from litestar.types import ControllerRouterHandler

from contracts.kit.flows.api import flow_controller, shown_flow
from contracts.kit.inputs import kept_quantity
from contracts.kit.params import IdempotencyKey
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.kit.wire.flows import Flow
from contracts.models import quality as m
from process_apis.quality import starts
from process_apis.quality.flows import FLOW_TYPES

STARTED = problems(422)


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

    @post("/usage-decision", responses=STARTED, summary="Apply a QMS usage decision to stock")
    async def usage_decision(
        self, session: Session, data: JSONBody[m.UsageDecisionStart], idempotency_key: IdempotencyKey = None
    ) -> Response[Flow]:
        body = msgspec.to_builtins(data) | {"failed_characteristics": []}
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


# quality.v1 has always taken these filters too (the console searches every process by work order):
# no quality flow carries them, so they find nothing, as they always did.
KEPT_FILTERS = ("equipment_id", "work_order_id", "asset_id", "item_id")
ROUTES: list[ControllerRouterHandler] = [
    StartController,
    flow_controller(FLOW_TYPES, also_filter_by=KEPT_FILTERS),
]
