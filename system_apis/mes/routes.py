"""MES HTTP surface: Struct in, one service call, Struct out.

State changes are POSTs to `/production-orders/{id}/<action>` (the names in `allowed_actions`);
each takes If-Match and Idempotency-Key and answers 409 naming the current state when refused.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from contracts.kit.actions import CHANGE, Handlers
from contracts.kit.paging import Page, Paged
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import mes as m
from contracts.models.common import ID_PATTERN
from system_apis.mes import genealogy, service

API = "/mes/v1"


EQUIPMENT = Handlers("equipment_id", m.Equipment)


class EquipmentFilters:
    work_centre: QueryId
    site: QueryId
    current_state: Annotated[m.EquipmentState | None, QueryParameter(name="state")]


class EquipmentController(Controller):
    path = "/equipment"
    tags = ["equipment"]

    create = EQUIPMENT.create(
        service.create_equipment,
        m.EquipmentCreate,
        summary="Register an equipment (a machine on a work centre)",
    )

    list = EQUIPMENT.list(
        service.list_equipment,
        EquipmentFilters,
        summary="List equipment",
        description="Filter by work centre, site or state.",
    )

    history = EQUIPMENT.children(
        "state-changes",
        service.list_state_changes,
        m.EquipmentStateRecord,
        name="history",
        summary="An equipment's state history, oldest first",
    )

    downtime = EQUIPMENT.children(
        "downtime",
        service.list_downtime,
        m.Downtime,
        summary="An equipment's stops, oldest first",
        description="A stop opens a period; running or idle again closes it (`ended_at`).",
    )

    @post(
        "/{equipment_id:str}/confirmations",
        responses=problems(404, 409, 422),
        summary="Confirm quantities counted on an equipment",
        description="Good and scrap quantities go to the operation on this equipment of the production "
        "order running on it; 409 `no-running-order` when none runs.",
    )
    async def confirm(
        self,
        session: Session,
        equipment_id: PathId,
        data: JSONBody[m.EquipmentConfirmationCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Confirmation]:
        confirmation = await service.confirm_on_equipment(session, equipment_id, data)
        return versioned(
            confirmation,
            status_code=201,
            location=f"{API}/production-orders/{confirmation.order_id}/confirmations",
        )

    get = EQUIPMENT.get(service.get_equipment, summary="Get an equipment and its current state")

    change_state = EQUIPMENT.post(
        "state",
        service.change_equipment_state,
        m.EquipmentStateChange,
        name="change_state",
        summary="Change an equipment's state (running, idle, down, disconnected)",
        description="Reporting the state it is already in is a 409 naming that state. A stop opens a "
        "downtime period; running or idle again closes it.",
    )


PRODUCTION_ORDERS = Handlers("order_id", m.ProductionOrder, service.change_order)


class ProductionOrderFilters:
    status: FromQuery[m.ProductionOrderStatus | None]
    item_id: QueryId
    site: QueryId
    lot_id: QueryId
    equipment_id: QueryId
    order_type: FromQuery[m.OrderType | None]
    source_lot_id: QueryId


class ProductionOrderController(Controller):
    path = "/production-orders"
    tags = ["production orders"]

    create = PRODUCTION_ORDERS.create(
        service.create_order, m.ProductionOrderCreate, summary="Create a production order with its operations"
    )

    list = PRODUCTION_ORDERS.list(
        service.list_orders,
        ProductionOrderFilters,
        summary="List production orders",
        description="Filter by status, item, site, output lot, an equipment any operation runs on, "
        "order type, or (rework orders) the lot reworked.",
    )

    confirmations = PRODUCTION_ORDERS.children(
        "confirmations", service.list_confirmations, m.Confirmation, summary="List an order's confirmations"
    )

    batches = PRODUCTION_ORDERS.children(
        "batches", service.list_order_batches, m.BatchCompletion, summary="List an order's completed batches"
    )

    consumptions = PRODUCTION_ORDERS.children(
        "consumptions",
        service.list_order_consumptions,
        m.Consumption,
        summary="List the material an order consumed (its input lots)",
    )

    get = PRODUCTION_ORDERS.get(service.get_order, summary="Get a production order with its operations")

    release = PRODUCTION_ORDERS.action("release", summary="Release an order to the floor")

    start = PRODUCTION_ORDERS.action("start", summary="Start running an order")

    hold = PRODUCTION_ORDERS.action(
        "hold",
        body=m.Hold,
        keywords=lambda data: {"hold": data},
        summary="Hold a running order, with a reason (e.g. a maintenance request id)",
    )

    resume = PRODUCTION_ORDERS.action("resume", summary="Resume a held order")

    complete = PRODUCTION_ORDERS.action("complete", summary="Complete a running (or held) order")

    close = PRODUCTION_ORDERS.action("close", summary="Close a completed order")

    cancel = PRODUCTION_ORDERS.action("cancel", body=m.Cancel, summary="Cancel an order not yet started")

    confirm = PRODUCTION_ORDERS.add(
        "confirmations",
        service.confirm,
        m.ConfirmationCreate,
        m.Confirmation,
        name="confirm",
        summary="Confirm good and scrap quantities for an operation (order running)",
    )

    complete_batch = PRODUCTION_ORDERS.add(
        "batches",
        service.complete_batch,
        m.BatchCompletionCreate,
        m.BatchCompletion,
        name="complete_batch",
        summary="Complete a batch: an output lot and its quantity (order running)",
    )

    consume = PRODUCTION_ORDERS.add(
        "consumptions",
        service.consume,
        m.ConsumptionCreate,
        m.Consumption,
        name="consume",
        summary="Record material consumed by the order (order running)",
    )


class GenealogyController(Controller):
    tags = ["genealogy"]

    @get(
        "/consumptions",
        responses=problems(422),
        summary="List material consumption",
        description="By input lot answers 'which orders used lot X' (a recall); by order, what went in.",
    )
    async def consumptions(
        self,
        session: Session,
        page_query: Paged,
        lot_id: QueryId = None,
        order_id: QueryId = None,
        item_id: QueryId = None,
    ) -> Page[m.Consumption]:
        return await service.list_consumptions(session, page_query, order_id, lot_id, item_id)

    @get(
        "/batches",
        responses=problems(422),
        summary="List completed batches",
        description="By lot answers 'which order made lot X'; by quality status, what waits for quality.",
    )
    async def batches(
        self,
        session: Session,
        page_query: Paged,
        lot_id: QueryId = None,
        order_id: QueryId = None,
        quality_status: FromQuery[m.BatchQualityStatus | None] = None,
    ) -> Page[m.BatchCompletion]:
        return await service.list_batches(session, page_query, order_id, lot_id, quality_status)

    @get("/batches/{batch_id:str}", responses=problems(404), summary="Get a batch with its quality status")
    async def batch(self, session: Session, batch_id: PathId) -> Response[m.BatchCompletion]:
        return versioned(await service.get_batch(session, batch_id))

    @post(
        "/batches/{batch_id:str}/quality-status",
        status_code=200,
        responses=CHANGE,
        summary="Set a batch's quality status (what quality decided about its lot)",
        description="pending, released, quarantined, rework or scrapped. Setting the status the batch "
        "already has changes nothing; a scrapped batch cannot change (409).",
    )
    async def set_quality_status(
        self,
        session: Session,
        batch_id: PathId,
        data: JSONBody[m.BatchQualityChange],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.BatchCompletion]:
        return versioned(await service.set_batch_quality(session, batch_id, data, if_match))

    @get(
        "/genealogy",
        responses=problems(422),
        summary="Trace a lot through production at any depth",
        description="where_used: the orders that consumed the lot, the lots they made, the orders those "
        "went into, and so on; where_from: the orders that made it and what they consumed, upwards. "
        "Each order with its input and output lots and its depth (1 = next to the lot), nearest "
        "first, in one answer; `truncated` says when more than `max_orders` lie within `max_depth`.",
    )
    async def genealogy(
        self,
        session: Session,
        lot_id: Annotated[str, QueryParameter(min_length=1, max_length=64, pattern=ID_PATTERN)],
        direction: FromQuery[m.TraceDirection] = m.TraceDirection.WHERE_USED,
        max_depth: Annotated[int, QueryParameter(ge=1, le=50, description="Orders along a path")] = 10,
        max_orders: Annotated[int, QueryParameter(ge=1, le=5000, description="Orders in the answer")] = 1000,
    ) -> m.Genealogy:
        return await genealogy.trace(session, lot_id, direction, max_depth, max_orders)


ROUTES = [EquipmentController, ProductionOrderController, GenealogyController]
