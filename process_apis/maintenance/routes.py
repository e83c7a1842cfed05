"""Maintenance process HTTP surface: start flows by API, and the flow store (list, timeline, retry,
cancel)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.types import ControllerRouterHandler

from contracts.kit.flows.api import flow_controller, shown_flow
from contracts.kit.inputs import past_instant
from contracts.kit.paging import utcnow
from contracts.kit.params import IdempotencyKey
from contracts.kit.problems import Unprocessable
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.kit.wire.flows import Flow
from contracts.models import maintenance as m
from process_apis.maintenance import starts
from process_apis.maintenance.flows import FLOW_TYPES

STARTED = problems(422)


def answered_by_earlier(what: str) -> dict[int, ResponseSpec]:
    """The 200 of a start that found the flow already doing it (201 is a new flow)."""
    return {200: ResponseSpec(data_container=Flow, description=f"Not started again: {what}")}


class StartController(Controller):
    path = "/flows"
    tags = ["flows"]

    @post(
        "/nc-maintenance",
        responses={
            **problems(409, 422),
            **answered_by_earlier("the flow these nonconformances already went into"),
        },
        summary="Raise maintenance for nonconformances on a machine",
        description="Maintenance request with the production context, production hold, lots blocked, and "
        "over the plant's rule a supplier case. One request per nonconformance: when all of them already "
        "went into one flow (started by their event, the plant's threshold or an earlier start) the answer "
        "is that flow (200); when only some did, or several flows took them, 409 nonconformance-in-flow "
        "names the flows (`flows`).",
    )
    async def nc_maintenance(
        self, session: Session, data: JSONBody[m.NcMaintenanceStart], idempotency_key: IdempotencyKey = None
    ) -> Response[Flow]:
        body = msgspec.to_builtins(data) | {"nc_ids": list(dict.fromkeys(data.nc_ids)), "started_by": "api"}
        flow_id, new = await starts.start_nc_maintenance_by_hand(session, body)
        return await shown_flow(session, flow_id, FLOW_TYPES, 201 if new else 200)

    @post(
        "/work-order-completion",
        responses={**STARTED, **answered_by_earlier("the work order's completion flow")},
        summary="Post a completed work order's parts and cost, update the CAPA, resume and close",
        description="The work order's completion flow that was not cancelled (running, waiting, stalled or "
        "completed) is the answer (200): retry a stalled one. A new flow (201) after a cancelled one posts "
        "nothing twice: its parts and cost replay the first postings.",
    )
    async def work_order_completion(
        self,
        session: Session,
        data: JSONBody[m.WorkOrderCompletionStart],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Flow]:
        flow_id, new = await starts.start_completion_by_hand(session, msgspec.to_builtins(data))
        return await shown_flow(session, flow_id, FLOW_TYPES, 201 if new else 200)

    @post(
        "/breakdown",
        responses=STARTED,
        summary="Raise a maintenance request for a machine that stopped",
        description="Name the machine by `equipment_id` (shop floor) or `asset_id` (CMMS), not both.",
    )
    async def breakdown(
        self, session: Session, data: JSONBody[m.BreakdownStart], idempotency_key: IdempotencyKey = None
    ) -> Response[Flow]:
        if (data.equipment_id is None) == (data.asset_id is None):
            raise Unprocessable(
                "name the machine by equipment_id or by asset_id (exactly one)", slug="machine-required"
            )
        body = msgspec.to_builtins(data) | {
            "source": "api",
            # CMMS refuses a downtime that starts in the future or outside plant years.
            "at": (past_instant(data.failure_time, "failure_time") or utcnow()).isoformat(),
        }
        body.pop("failure_time", None)
        flow_id = await starts.start_breakdown(session, body, None)
        return await shown_flow(session, flow_id, FLOW_TYPES, 201)

    @post(
        "/spares-replenishment",
        responses=STARTED,
        summary="Check a spare part against its reorder point and raise one requisition if needed",
    )
    async def spares_replenishment(
        self,
        session: Session,
        data: JSONBody[m.SparesReplenishmentStart],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Flow]:
        flow_id = await starts.start_spares(session, msgspec.to_builtins(data), None)
        return await shown_flow(session, flow_id, FLOW_TYPES, 201)


# maintenance.v1 has always taken this filter too (the console searches every process by a key):
# no maintenance flow carries it, so it finds nothing, as it always did.
KEPT_FILTERS = ("supplier_id",)
ROUTES: list[ControllerRouterHandler] = [
    StartController,
    flow_controller(FLOW_TYPES, also_filter_by=KEPT_FILTERS),
]
