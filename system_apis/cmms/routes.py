"""CMMS HTTP surface: Struct in, one service call, Struct out.

State changes are POSTs to `/<record>/<id>/<action>` (the action names in `allowed_actions`, with
`_` written `-`); each takes If-Match and Idempotency-Key and answers 409 naming the current state
when the state machine refuses it.
"""

from __future__ import annotations

from litestar import Controller
from litestar.params import FromQuery

from contracts.kit.actions import Handlers
from contracts.kit.params import QueryId
from contracts.kit.responses import problems
from contracts.models import cmms as m
from system_apis.cmms import service


def _asset_action(data: m.AssetAction) -> dict[str, str | None]:
    return {"reason": data.note, "wo_id": data.work_order_id}


ASSETS = Handlers("asset_id", m.Asset, service.change_asset)


class AssetFilters:
    site: QueryId
    status: FromQuery[m.AssetStatus | None]
    criticality: FromQuery[m.Criticality | None]


class AssetController(Controller):
    path = "/assets"
    tags = ["assets"]

    create = ASSETS.create(
        service.create_asset, m.AssetCreate, summary="Register an asset (starts in_service)"
    )

    list = ASSETS.list(
        service.list_assets,
        AssetFilters,
        summary="List assets",
        description="Filter by site, status or criticality.",
    )

    downtime = ASSETS.children(
        "downtime", service.list_downtime, m.Downtime, summary="List an asset's downtime records"
    )

    get = ASSETS.get(service.get_asset, summary="Get an asset")

    update = ASSETS.update(
        service.update_asset,
        m.AssetUpdate,
        summary="Change an asset's master data",
        responses=problems(404, 409, 412),
    )

    down = ASSETS.action(
        "down",
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

    start_maintenance = ASSETS.action(
        "start-maintenance",
        body=m.AssetAction,
        keywords=_asset_action,
        summary="Take an asset into maintenance",
        description="in_service or down -> under_maintenance.",
    )

    restore = ASSETS.action(
        "restore",
        body=m.AssetAction,
        keywords=_asset_action,
        summary="Return an asset to service",
        description="down or under_maintenance -> in_service; closes the open downtime record.",
    )

    retire = ASSETS.action(
        "retire", body=m.AssetAction, keywords=_asset_action, summary="Retire an asset (final)"
    )


MAINTENANCE_REQUESTS = Handlers("request_id", m.MaintenanceRequest, service.change_request)


class MaintenanceRequestFilters:
    asset_id: QueryId
    status: FromQuery[m.RequestStatus | None]
    site: QueryId
    nonconformance_id: QueryId
    production_order: QueryId


class MaintenanceRequestController(Controller):
    path = "/maintenance-requests"
    tags = ["maintenance requests"]

    create = MAINTENANCE_REQUESTS.create(
        service.submit_request,
        m.MaintenanceRequestCreate,
        summary="Submit a maintenance request for an asset",
    )

    list = MAINTENANCE_REQUESTS.list(
        service.list_requests,
        MaintenanceRequestFilters,
        summary="List maintenance requests",
        description="Filter by asset, status, site, nonconformance or production order.",
    )

    get = MAINTENANCE_REQUESTS.get(service.get_request, summary="Get a maintenance request")

    accept = MAINTENANCE_REQUESTS.action("accept", summary="Accept a request")

    reject = MAINTENANCE_REQUESTS.action("reject", body=m.Reason, summary="Reject a request, with a reason")

    start = MAINTENANCE_REQUESTS.action(
        "start",
        summary="Start work on a request",
        description="Also happens by itself when a work order against the request starts.",
    )

    complete = MAINTENANCE_REQUESTS.action(
        "complete",
        summary="Complete a request",
        description="Also happens by itself when the last open work order against it is completed; by hand "
        "only when none is open (409 work-orders-open, naming them).",
    )

    cancel = MAINTENANCE_REQUESTS.action(
        "cancel",
        body=m.OptionalReason,
        summary="Cancel a request",
        description="Only while no work order against it is open (409 work-orders-open, naming them): "
        "cancel those first.",
    )


WORK_ORDERS = Handlers("wo_id", m.WorkOrder, service.change_work_order)


class WorkOrderFilters:
    assignee: QueryId
    site: QueryId
    asset_id: QueryId
    status: FromQuery[m.WorkOrderStatus | None]
    request_id: QueryId


class WorkOrderController(Controller):
    path = "/work-orders"
    tags = ["work orders"]

    create = WORK_ORDERS.create(
        service.create_work_order,
        m.WorkOrderCreate,
        summary="Create a work order, from a request or standalone",
        description="With request_id the request must be accepted or in_progress (else 409); asset, type, "
        "description and links default from it.",
    )

    list = WORK_ORDERS.list(
        service.list_work_orders,
        WorkOrderFilters,
        summary="List work orders",
        description="Filter by assignee (person id), site, asset, status or request; `updated_since` "
        "gives a technician's device the changes since its last sync.",
    )

    get = WORK_ORDERS.get(service.get_work_order, summary="Get a work order with its part and labor lines")

    update = WORK_ORDERS.update(
        service.update_work_order,
        m.WorkOrderUpdate,
        summary="Change a work order's plan, assignee or codes (until technically complete)",
    )

    add_part = WORK_ORDERS.post(
        "parts",
        service.add_part,
        m.PartLineCreate,
        name="add_part",
        summary="Record a spare part used (until technically complete)",
    )

    add_labor = WORK_ORDERS.post(
        "labor",
        service.add_labor,
        m.LaborLineCreate,
        name="add_labor",
        summary="Record hours worked (until technically complete)",
    )

    release = WORK_ORDERS.action("release", summary="Release a work order for work")

    start = WORK_ORDERS.action("start", summary="Start work (sets actual_start)")

    hold = WORK_ORDERS.action("hold", body=m.Reason, summary="Put work on hold, with a reason")

    resume = WORK_ORDERS.action("resume", summary="Resume work on hold")

    complete = WORK_ORDERS.action(
        "complete",
        body=m.WorkOrderComplete,
        keywords=lambda data: {"reason": data.note, "completion": data},
        summary="Report the work technically complete",
        description="Publishes cmms.work_order.completed.v1 with the part and labor lines. A corrective "
        "order needs cause_code and correction_code (422 codes-required otherwise).",
    )

    costs_posted = WORK_ORDERS.post(
        "costs-posted",
        service.mark_costs_posted,
        m.CostsPosted,
        summary="Record that ERP has the order's parts and costs",
        description="Only when technically complete, once (409 costs-already-posted); closing needs it.",
    )

    close = WORK_ORDERS.action(
        "close",
        summary="Close a technically complete work order",
        description="409 costs-not-posted until costs-posted was recorded.",
    )

    cancel = WORK_ORDERS.action(
        "cancel", body=m.OptionalReason, summary="Cancel a work order not yet started"
    )


ROUTES = [AssetController, MaintenanceRequestController, WorkOrderController]
