"""CMMS HTTP surface: Struct in, one service call, Struct out.

State changes are POSTs to `/<record>/<id>/<action>` (the action names in `allowed_actions`, with
`_` written `-`); each takes If-Match and Idempotency-Key and answers 409 naming the current state
when the state machine refuses it.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromQuery

from contracts.kit.actions import record_create, record_get, record_post, record_update, state_change
from contracts.kit.paging import Page, Paged
from contracts.kit.params import PathId, QueryId
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.models import cmms as m
from system_apis.cmms import service


def _asset_action(data: m.AssetAction) -> dict[str, str | None]:
    return {"reason": data.note, "wo_id": data.work_order_id}


class AssetController(Controller):
    path = "/assets"
    tags = ["assets"]

    create = record_create(
        "asset_id",
        service.create_asset,
        m.AssetCreate,
        m.Asset,
        summary="Register an asset (starts in_service)",
    )

    @get(responses=problems(422), summary="List assets", description="Filter by site, status or criticality.")
    async def list(
        self,
        session: Session,
        page_query: Paged,
        site: QueryId = None,
        status: FromQuery[m.AssetStatus | None] = None,
        criticality: FromQuery[m.Criticality | None] = None,
    ) -> Page[m.Asset]:
        return await service.list_assets(session, page_query, site, status, criticality)

    @get("/{asset_id:str}/downtime", responses=problems(404, 422), summary="List an asset's downtime records")
    async def downtime(self, session: Session, asset_id: PathId, page_query: Paged) -> Page[m.Downtime]:
        return await service.list_downtime(session, asset_id, page_query)

    get = record_get("asset_id", service.get_asset, m.Asset, summary="Get an asset")

    update = record_update(
        "asset_id",
        service.update_asset,
        m.AssetUpdate,
        m.Asset,
        summary="Change an asset's master data",
        responses=problems(404, 409, 412),
    )

    down = state_change(
        "asset_id",
        "down",
        service.change_asset,
        m.Asset,
        body=m.AssetDown,
        keywords=lambda data: {
            "reason": data.reason,
            "failure_time": data.failure_time,
            "request_id": data.maintenance_request_id,
            "wo_id": data.work_order_id,
        },
        summary="Report an asset down (breakdown)",
        description="in_service -> down; opens a downtime record starting at failure_time (default now).",
    )

    start_maintenance = state_change(
        "asset_id",
        "start-maintenance",
        service.change_asset,
        m.Asset,
        body=m.AssetAction,
        keywords=_asset_action,
        summary="Take an asset into maintenance",
        description="in_service or down -> under_maintenance.",
    )

    restore = state_change(
        "asset_id",
        "restore",
        service.change_asset,
        m.Asset,
        body=m.AssetAction,
        keywords=_asset_action,
        summary="Return an asset to service",
        description="down or under_maintenance -> in_service; closes the open downtime record.",
    )

    retire = state_change(
        "asset_id",
        "retire",
        service.change_asset,
        m.Asset,
        body=m.AssetAction,
        keywords=_asset_action,
        summary="Retire an asset (final)",
    )


class MaintenanceRequestController(Controller):
    path = "/maintenance-requests"
    tags = ["maintenance requests"]

    create = record_create(
        "request_id",
        service.submit_request,
        m.MaintenanceRequestCreate,
        m.MaintenanceRequest,
        summary="Submit a maintenance request for an asset",
    )

    @get(
        responses=problems(422),
        summary="List maintenance requests",
        description="Filter by asset, status, site, nonconformance or production order.",
    )
    async def list(
        self,
        session: Session,
        page_query: Paged,
        asset_id: QueryId = None,
        status: FromQuery[m.RequestStatus | None] = None,
        site: QueryId = None,
        nonconformance_id: QueryId = None,
        production_order: QueryId = None,
    ) -> Page[m.MaintenanceRequest]:
        return await service.list_requests(
            session,
            page_query,
            asset_id=asset_id,
            status=status,
            site=site,
            nonconformance_id=nonconformance_id,
            production_order=production_order,
        )

    get = record_get(
        "request_id", service.get_request, m.MaintenanceRequest, summary="Get a maintenance request"
    )

    accept = state_change(
        "request_id", "accept", service.change_request, m.MaintenanceRequest, summary="Accept a request"
    )

    reject = state_change(
        "request_id",
        "reject",
        service.change_request,
        m.MaintenanceRequest,
        body=m.Reason,
        summary="Reject a request, with a reason",
    )

    start = state_change(
        "request_id",
        "start",
        service.change_request,
        m.MaintenanceRequest,
        summary="Start work on a request",
        description="Also happens by itself when a work order against the request starts.",
    )

    complete = state_change(
        "request_id",
        "complete",
        service.change_request,
        m.MaintenanceRequest,
        summary="Complete a request",
        description="Also happens by itself when the last open work order against it is completed.",
    )

    cancel = state_change(
        "request_id",
        "cancel",
        service.change_request,
        m.MaintenanceRequest,
        body=m.OptionalReason,
        summary="Cancel a request",
    )


class WorkOrderController(Controller):
    path = "/work-orders"
    tags = ["work orders"]

    create = record_create(
        "wo_id",
        service.create_work_order,
        m.WorkOrderCreate,
        m.WorkOrder,
        summary="Create a work order, from a request or standalone",
        description="With request_id the request must be accepted or in_progress (else 409); asset, type, "
        "description and links default from it.",
    )

    @get(
        responses=problems(422),
        summary="List work orders",
        description="Filter by assignee (person id), site, asset, status or request; `updated_since` "
        "gives a technician's device the changes since its last sync.",
    )
    async def list(
        self,
        session: Session,
        page_query: Paged,
        assignee: QueryId = None,
        site: QueryId = None,
        asset_id: QueryId = None,
        status: FromQuery[m.WorkOrderStatus | None] = None,
        request_id: QueryId = None,
    ) -> Page[m.WorkOrder]:
        return await service.list_work_orders(
            session,
            page_query,
            assignee=assignee,
            site=site,
            asset_id=asset_id,
            status=status,
            request_id=request_id,
        )

    get = record_get(
        "wo_id", service.get_work_order, m.WorkOrder, summary="Get a work order with its part and labor lines"
    )

    update = record_update(
        "wo_id",
        service.update_work_order,
        m.WorkOrderUpdate,
        m.WorkOrder,
        summary="Change a work order's plan, assignee or codes (until technically complete)",
    )

    add_part = record_post(
        "wo_id",
        "parts",
        service.add_part,
        m.PartLineCreate,
        m.WorkOrder,
        name="add_part",
        summary="Record a spare part used (until technically complete)",
    )

    add_labor = record_post(
        "wo_id",
        "labor",
        service.add_labor,
        m.LaborLineCreate,
        m.WorkOrder,
        name="add_labor",
        summary="Record hours worked (until technically complete)",
    )

    release = state_change(
        "wo_id", "release", service.change_work_order, m.WorkOrder, summary="Release a work order for work"
    )

    start = state_change(
        "wo_id", "start", service.change_work_order, m.WorkOrder, summary="Start work (sets actual_start)"
    )

    hold = state_change(
        "wo_id",
        "hold",
        service.change_work_order,
        m.WorkOrder,
        body=m.Reason,
        summary="Put work on hold, with a reason",
    )

    resume = state_change(
        "wo_id", "resume", service.change_work_order, m.WorkOrder, summary="Resume work on hold"
    )

    complete = state_change(
        "wo_id",
        "complete",
        service.change_work_order,
        m.WorkOrder,
        body=m.WorkOrderComplete,
        keywords=lambda data: {"reason": data.note, "completion": data},
        summary="Report the work technically complete",
        description="Publishes cmms.work_order.completed.v1 with the part and labor lines. A corrective "
        "order needs cause_code and correction_code (422 codes-required otherwise).",
    )

    costs_posted = record_post(
        "wo_id",
        "costs-posted",
        service.mark_costs_posted,
        m.CostsPosted,
        m.WorkOrder,
        summary="Record that ERP has the order's parts and costs",
        description="Only when technically complete, once (409 costs-already-posted); closing needs it.",
    )

    close = state_change(
        "wo_id",
        "close",
        service.change_work_order,
        m.WorkOrder,
        summary="Close a technically complete work order",
        description="409 costs-not-posted until costs-posted was recorded.",
    )

    cancel = state_change(
        "wo_id",
        "cancel",
        service.change_work_order,
        m.WorkOrder,
        body=m.OptionalReason,
        summary="Cancel a work order not yet started",
    )


ROUTES = [AssetController, MaintenanceRequestController, WorkOrderController]
