"""CMMS HTTP surface: Struct in, one service call, Struct out.

State changes are POSTs to `/<record>/<id>/<action>` (the action names in `allowed_actions`, with
`_` written `-`); each takes If-Match and Idempotency-Key and answers 409 naming the current state
when the state machine refuses it.
"""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody

from contracts.kit.actions import CHANGE, record_create, record_get, record_update, state_change
from contracts.kit.paging import Page, Paged
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import cmms as m
from system_apis.cmms import service


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

    @post(
        "/{asset_id:str}/down",
        status_code=200,
        responses=CHANGE,
        summary="Report an asset down (breakdown)",
        description="in_service -> down; opens a downtime record starting at failure_time (default now).",
    )
    async def down(
        self,
        session: Session,
        asset_id: PathId,
        data: JSONBody[m.AssetDown],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Asset]:
        return versioned(
            await service.change_asset(
                session,
                asset_id,
                "down",
                if_match,
                reason=data.reason,
                failure_time=data.failure_time,
                request_id=data.maintenance_request_id,
                wo_id=data.work_order_id,
            )
        )

    @post(
        "/{asset_id:str}/start-maintenance",
        status_code=200,
        responses=CHANGE,
        summary="Take an asset into maintenance",
        description="in_service or down -> under_maintenance.",
    )
    async def start_maintenance(
        self,
        session: Session,
        asset_id: PathId,
        data: JSONBody[m.AssetAction],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Asset]:
        return versioned(
            await service.change_asset(
                session, asset_id, "start_maintenance", if_match, reason=data.note, wo_id=data.work_order_id
            )
        )

    @post(
        "/{asset_id:str}/restore",
        status_code=200,
        responses=CHANGE,
        summary="Return an asset to service",
        description="down or under_maintenance -> in_service; closes the open downtime record.",
    )
    async def restore(
        self,
        session: Session,
        asset_id: PathId,
        data: JSONBody[m.AssetAction],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Asset]:
        return versioned(
            await service.change_asset(
                session, asset_id, "restore", if_match, reason=data.note, wo_id=data.work_order_id
            )
        )

    @post(
        "/{asset_id:str}/retire",
        status_code=200,
        responses=CHANGE,
        summary="Retire an asset (final)",
    )
    async def retire(
        self,
        session: Session,
        asset_id: PathId,
        data: JSONBody[m.AssetAction],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Asset]:
        return versioned(
            await service.change_asset(
                session, asset_id, "retire", if_match, reason=data.note, wo_id=data.work_order_id
            )
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

    @post(
        "/{request_id:str}/reject",
        status_code=200,
        responses=CHANGE,
        summary="Reject a request, with a reason",
    )
    async def reject(
        self,
        session: Session,
        request_id: PathId,
        data: JSONBody[m.Reason],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.MaintenanceRequest]:
        return versioned(await service.change_request(session, request_id, "reject", if_match, data.reason))

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

    @post("/{request_id:str}/cancel", status_code=200, responses=CHANGE, summary="Cancel a request")
    async def cancel(
        self,
        session: Session,
        request_id: PathId,
        data: JSONBody[m.OptionalReason],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.MaintenanceRequest]:
        return versioned(await service.change_request(session, request_id, "cancel", if_match, data.reason))


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

    @post(
        "/{wo_id:str}/parts",
        status_code=200,
        responses=CHANGE,
        summary="Record a spare part used (until technically complete)",
    )
    async def add_part(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.PartLineCreate],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(await service.add_part(session, wo_id, data, if_match))

    @post(
        "/{wo_id:str}/labor",
        status_code=200,
        responses=CHANGE,
        summary="Record hours worked (until technically complete)",
    )
    async def add_labor(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.LaborLineCreate],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(await service.add_labor(session, wo_id, data, if_match))

    release = state_change(
        "wo_id", "release", service.change_work_order, m.WorkOrder, summary="Release a work order for work"
    )

    start = state_change(
        "wo_id", "start", service.change_work_order, m.WorkOrder, summary="Start work (sets actual_start)"
    )

    @post(
        "/{wo_id:str}/hold",
        status_code=200,
        responses=CHANGE,
        summary="Put work on hold, with a reason",
    )
    async def hold(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.Reason],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(
            await service.change_work_order(session, wo_id, "hold", if_match, reason=data.reason)
        )

    resume = state_change(
        "wo_id", "resume", service.change_work_order, m.WorkOrder, summary="Resume work on hold"
    )

    @post(
        "/{wo_id:str}/complete",
        status_code=200,
        responses=CHANGE,
        summary="Report the work technically complete",
        description="Publishes cmms.work_order.completed.v1 with the part and labor lines. A corrective "
        "order needs cause_code and correction_code (422 codes-required otherwise).",
    )
    async def complete(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.WorkOrderComplete],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(
            await service.change_work_order(
                session, wo_id, "complete", if_match, reason=data.note, completion=data
            )
        )

    @post(
        "/{wo_id:str}/costs-posted",
        status_code=200,
        responses=CHANGE,
        summary="Record that ERP has the order's parts and costs",
        description="Only when technically complete, once (409 costs-already-posted); closing needs it.",
    )
    async def costs_posted(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.CostsPosted],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(await service.mark_costs_posted(session, wo_id, data, if_match))

    close = state_change(
        "wo_id",
        "close",
        service.change_work_order,
        m.WorkOrder,
        summary="Close a technically complete work order",
        description="409 costs-not-posted until costs-posted was recorded.",
    )

    @post(
        "/{wo_id:str}/cancel",
        status_code=200,
        responses=CHANGE,
        summary="Cancel a work order not yet started",
    )
    async def cancel(
        self,
        session: Session,
        wo_id: PathId,
        data: JSONBody[m.OptionalReason],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.WorkOrder]:
        return versioned(
            await service.change_work_order(session, wo_id, "cancel", if_match, reason=data.reason)
        )


ROUTES = [AssetController, MaintenanceRequestController, WorkOrderController]
