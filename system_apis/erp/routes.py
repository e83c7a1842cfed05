"""ERP HTTP surface: Struct in, one service call, Struct out."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from contracts.kit.auth import current_principal
from contracts.kit.paging import Page, Paged, body_date
from contracts.kit.params import IdempotencyKey, IfMatch, PathId, QueryId
from contracts.kit.patterns import whole
from contracts.kit.responses import problems, versioned
from contracts.kit.unit_of_work import Session
from contracts.models import erp as m
from system_apis.erp import alerts, holds
from system_apis.erp.port import Erp, Op

Q = Paged
API = "/erp/v1"
# Repeated for any of several (`?status=open&status=partially_received`): one request where a
# client wants, say, every order still to be received.
PurchaseOrderStatuses = Annotated[
    list[m.PurchaseOrderStatus] | None,
    QueryParameter(description="Only orders in this status; repeat it for orders in any of several."),
]
# A supplier's own lot number, as printed on its delivery note (any text a receipt could record).
SupplierLot = Annotated[str | None, QueryParameter(min_length=1, max_length=200, pattern=whole(r"[^\x00]*"))]
AnyRequest = Request[Any, Any, Any]
RELEASE_SCOPES = ("erp:write", holds.RELEASE_SCOPE)


def _scopes(request: AnyRequest) -> frozenset[str]:
    return current_principal(request).scopes


class ItemController(Controller):
    path = "/items"
    tags = ["items"]

    @post(responses=problems(409, 422), summary="Create an item (material master)")
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.ItemCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Item]:
        item = await erp.create_item(session, data, op)
        return versioned(item, status_code=201, location=f"{API}/items/{item.item_id}")

    @get(responses=problems(422), summary="List items")
    async def list(
        self, session: Session, erp: Erp, page_query: Q, item_type: FromQuery[m.ItemType | None] = None
    ) -> Page[m.Item]:
        return await erp.list_items(session, page_query, item_type)

    @get(
        "/{item_id:str}/stock",
        responses=problems(404),
        summary="An item's stock per status over all lots, against its reorder point",
    )
    async def stock(self, session: Session, erp: Erp, item_id: PathId) -> m.ItemStock:
        return await erp.item_stock(session, item_id)

    @get("/{item_id:str}", responses=problems(404), summary="Get an item")
    async def get(self, session: Session, erp: Erp, item_id: PathId) -> Response[m.Item]:
        return versioned(await erp.get_item(session, item_id))

    @patch("/{item_id:str}", responses=problems(404, 412), summary="Change an item")
    async def update(
        self,
        session: Session,
        erp: Erp,
        item_id: PathId,
        data: JSONBody[m.ItemUpdate],
        if_match: IfMatch = None,
    ) -> Response[m.Item]:
        return versioned(await erp.update_item(session, item_id, data, if_match))


class SupplierController(Controller):
    path = "/suppliers"
    tags = ["suppliers"]

    @post(responses=problems(409, 422), summary="Create a supplier")
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.SupplierCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Supplier]:
        supplier = await erp.create_supplier(session, data, op)
        return versioned(supplier, status_code=201, location=f"{API}/suppliers/{supplier.supplier_id}")

    @get(responses=problems(422), summary="List suppliers")
    async def list(self, session: Session, erp: Erp, page_query: Q) -> Page[m.Supplier]:
        return await erp.list_suppliers(session, page_query)

    @get("/{supplier_id:str}", responses=problems(404), summary="Get a supplier")
    async def get(self, session: Session, erp: Erp, supplier_id: PathId) -> Response[m.Supplier]:
        return versioned(await erp.get_supplier(session, supplier_id))


class PurchaseOrderController(Controller):
    path = "/purchase-orders"
    tags = ["purchase orders"]

    @post(responses=problems(422), summary="Create a purchase order with its lines")
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.PurchaseOrderCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseOrder]:
        po = await erp.create_purchase_order(session, data, op)
        return versioned(po, status_code=201, location=f"{API}/purchase-orders/{po.po_id}")

    @get(responses=problems(422), summary="List purchase orders")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        supplier_id: QueryId = None,
        status: PurchaseOrderStatuses = None,
    ) -> Page[m.PurchaseOrder]:
        return await alerts.attach_page(
            session, await erp.list_purchase_orders(session, page_query, supplier_id, status or ())
        )

    @get("/{po_id:str}", responses=problems(404), summary="Get a purchase order")
    async def get(self, session: Session, erp: Erp, po_id: PathId) -> Response[m.PurchaseOrder]:
        [po] = await alerts.attach(session, [await erp.get_purchase_order(session, po_id)])
        return versioned(po)

    @post(
        "/{po_id:str}/quality-alerts",
        status_code=200,
        responses=problems(404, 409, 422),
        summary="Flag an open purchase order: material of this item from its supplier failed quality",
        description="One alert per order and failed lot: a repeat answers the order as it stands.",
    )
    async def flag(
        self,
        session: Session,
        erp: Erp,
        po_id: PathId,
        data: JSONBody[m.QualityAlertCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseOrder]:
        return versioned(await alerts.raise_alert(erp, session, po_id, data, op))

    @post(
        "/{po_id:str}/cancel",
        status_code=200,
        responses=problems(404, 409, 412, 422),
        summary="Cancel an open purchase order",
    )
    async def cancel(
        self,
        session: Session,
        erp: Erp,
        po_id: PathId,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseOrder]:
        return versioned(await erp.cancel_purchase_order(session, po_id, if_match))


class GoodsReceiptController(Controller):
    path = "/goods-receipts"
    tags = ["receipts"]

    @post(
        responses=problems(409, 422),
        summary="Post a goods receipt against a purchase order line",
        description="Creates the lot; inspection-required items land in QUALITY_INSPECTION stock.",
    )
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.GoodsReceiptCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.GoodsReceipt]:
        receipt = await erp.post_goods_receipt(session, data, op)
        return versioned(receipt, status_code=201, location=f"{API}/goods-receipts/{receipt.receipt_id}")

    @get(
        responses=problems(422),
        summary="List goods receipts",
        description="Filter by purchase order, supplier (its delivery history) or lot.",
    )
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        po_id: QueryId = None,
        supplier_id: QueryId = None,
        lot_id: QueryId = None,
    ) -> Page[m.GoodsReceipt]:
        return await erp.list_goods_receipts(session, page_query, po_id, supplier_id, lot_id)

    @get("/{receipt_id:str}", responses=problems(404), summary="Get a goods receipt")
    async def get(self, session: Session, erp: Erp, receipt_id: PathId) -> Response[m.GoodsReceipt]:
        return versioned(await erp.get_goods_receipt(session, receipt_id))


class ProductionReceiptController(Controller):
    path = "/production-receipts"
    tags = ["receipts"]

    @post(responses=problems(409, 422), summary="Receive a finished lot from production into stock")
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.ProductionReceiptCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.GoodsReceipt]:
        receipt = await erp.post_production_receipt(session, data, op)
        return versioned(receipt, status_code=201, location=f"{API}/goods-receipts/{receipt.receipt_id}")


class LotController(Controller):
    path = "/lots"
    tags = ["stock"]

    @get(
        responses=problems(422),
        summary="List lots",
        description="Filter by item, supplier, the supplier's own lot number or held status.",
    )
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        item_id: QueryId = None,
        supplier_id: QueryId = None,
        status: FromQuery[m.StockStatus | None] = None,
        supplier_lot: SupplierLot = None,
    ) -> Page[m.Lot]:
        return await erp.list_lots(session, page_query, item_id, supplier_id, status, supplier_lot)

    @get(
        "/{lot_id:str}/eligibility",
        responses=problems(404),
        summary="Whether the lot may ship, and why not; its payment hold",
    )
    async def eligibility(self, session: Session, erp: Erp, lot_id: PathId) -> m.LotEligibility:
        return await holds.eligibility(erp, session, lot_id)

    @get(
        "/{lot_id:str}",
        responses=problems(404),
        summary="Get a lot with its balances per location and status",
    )
    async def get(self, session: Session, erp: Erp, lot_id: PathId) -> Response[m.Lot]:
        return versioned(await erp.get_lot(session, lot_id))

    @post(
        "/{lot_id:str}/payment-hold",
        status_code=200,
        responses=problems(404, 422),
        summary="Hold payment of the supplier invoices of the lot's receipts",
        description="Blocks every open invoice of the lot's receipts and every one posted later, until "
        "quality releases the hold. Holding a held lot changes nothing.",
    )
    async def hold_payment(
        self,
        session: Session,
        erp: Erp,
        lot_id: PathId,
        data: JSONBody[m.PaymentHoldCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PaymentHold]:
        return versioned(await holds.set_payment_hold(erp, session, lot_id, data, op))

    @post(
        "/{lot_id:str}/payment-hold/release",
        status_code=200,
        responses=problems(404, 422),
        summary="Release the lot's payment hold (quality only, naming the release decision)",
        opt={"scopes": RELEASE_SCOPES},
    )
    async def release_payment(
        self,
        request: AnyRequest,
        session: Session,
        erp: Erp,
        lot_id: PathId,
        data: JSONBody[m.PaymentHoldRelease],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PaymentHold]:
        return versioned(await holds.release_payment_hold(erp, session, _scopes(request), lot_id, data, op))


class InventoryTransactionController(Controller):
    path = "/inventory-transactions"
    tags = ["stock"]

    @post(
        responses=problems(409, 412, 422),
        summary="Post a stock movement",
        description="release, block, unblock, scrap, return_to_vendor, issue (needs order_ref) or transfer. "
        "If-Match takes the lot's ETag. Issuing held stock is a 409 lot-on-hold problem. Stock out of "
        "BLOCKED or QUALITY_INSPECTION (but into BLOCKED) is a quality release: it needs the scope "
        "erp:release (403 quality-release-required) and a quality_ref whose disposition allows it "
        "(422 quality-ref-required, quality-ref-mismatch).",
    )
    async def create(
        self,
        request: AnyRequest,
        session: Session,
        erp: Erp,
        data: JSONBody[m.InventoryTransactionCreate],
        op: Op,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.InventoryTransaction]:
        holds.check_movement(_scopes(request), data)
        txn = await erp.post_movement(session, data, if_match, op)
        return versioned(txn, status_code=201, location=f"{API}/inventory-transactions/{txn.txn_id}")

    @get(responses=problems(422), summary="List inventory transactions")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        lot_id: QueryId = None,
        type: FromQuery[m.MovementType | None] = None,
        order_ref: QueryId = None,
    ) -> Page[m.InventoryTransaction]:
        return await erp.list_movements(session, page_query, lot_id, type, order_ref)

    @get("/{txn_id:str}", responses=problems(404), summary="Get an inventory transaction")
    async def get(self, session: Session, erp: Erp, txn_id: PathId) -> Response[m.InventoryTransaction]:
        return versioned(await erp.get_movement(session, txn_id))

    @post(
        "/{txn_id:str}/reversal",
        responses=problems(404, 409, 422),
        summary="Reverse a movement with a compensating transaction",
    )
    async def reverse(
        self,
        request: AnyRequest,
        session: Session,
        erp: Erp,
        txn_id: PathId,
        data: JSONBody[m.ReversalCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.InventoryTransaction]:
        holds.check_reversal(_scopes(request), await erp.get_movement(session, txn_id), data)
        txn = await erp.reverse_movement(session, txn_id, data, op)
        return versioned(txn, status_code=201, location=f"{API}/inventory-transactions/{txn.txn_id}")


class CostPostingController(Controller):
    path = "/cost-postings"
    tags = ["costs"]

    @post(responses=problems(422), summary="Post a cost to a cost centre and order")
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.CostPostingCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.CostPosting]:
        cost = await erp.post_cost(session, data, op)
        return versioned(cost, status_code=201, location=f"{API}/cost-postings/{cost.posting_id}")

    @get(responses=problems(422), summary="List cost postings")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        order_ref: QueryId = None,
        cost_centre: QueryId = None,
    ) -> Page[m.CostPosting]:
        return await erp.list_costs(session, page_query, order_ref, cost_centre)

    @get("/{posting_id:str}", responses=problems(404), summary="Get a cost posting")
    async def get(self, session: Session, erp: Erp, posting_id: PathId) -> Response[m.CostPosting]:
        return versioned(await erp.get_cost(session, posting_id))


class PurchaseRequisitionController(Controller):
    path = "/purchase-requisitions"
    tags = ["purchasing"]

    @post(
        responses=problems(409, 422),
        summary="Raise a purchase requisition",
        description="An item has at most one open requisition: a second is 409 requisition-open.",
    )
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.PurchaseRequisitionCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseRequisition]:
        requisition = await erp.create_requisition(session, data, op)
        return versioned(
            requisition,
            status_code=201,
            location=f"{API}/purchase-requisitions/{requisition.requisition_id}",
        )

    @get(responses=problems(422), summary="List purchase requisitions")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        item_id: QueryId = None,
        status: FromQuery[m.RequisitionStatus | None] = None,
    ) -> Page[m.PurchaseRequisition]:
        return await erp.list_requisitions(session, page_query, item_id, status)

    @get("/{requisition_id:str}", responses=problems(404), summary="Get a purchase requisition")
    async def get(
        self, session: Session, erp: Erp, requisition_id: PathId
    ) -> Response[m.PurchaseRequisition]:
        return versioned(await erp.get_requisition(session, requisition_id))

    @post(
        "/{requisition_id:str}/order",
        status_code=200,
        responses=problems(404, 409, 412, 422),
        summary="open → ordered (optionally naming the purchase order)",
    )
    async def order(
        self,
        session: Session,
        erp: Erp,
        requisition_id: PathId,
        data: JSONBody[m.RequisitionOrdered],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseRequisition]:
        return versioned(
            await erp.move_requisition(session, requisition_id, "order", if_match, po_id=data.po_id)
        )

    @post(
        "/{requisition_id:str}/cancel",
        status_code=200,
        responses=problems(404, 409, 412, 422),
        summary="open → cancelled",
    )
    async def cancel(
        self,
        session: Session,
        erp: Erp,
        requisition_id: PathId,
        data: JSONBody[m.RequisitionCancel],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.PurchaseRequisition]:
        return versioned(
            await erp.move_requisition(session, requisition_id, "cancel", if_match, reason=data.reason)
        )


class SupplierInvoiceController(Controller):
    path = "/supplier-invoices"
    tags = ["supplier invoices"]

    @post(
        responses=problems(409, 422),
        summary="Post a supplier invoice against a purchase order's receipts",
        description="Each line bills a goods receipt of the order, at most what was received and kept "
        "(409 over-invoiced); a line amount or total beyond 14 digits before the point is a 422 "
        "amount-too-large. An invoice of a lot on a payment hold is posted blocked. An invoice_date "
        "outside 1900..2999 is a 422 invalid-date; on Tryton, one of no open accounting period a "
        "422 no-open-period.",
    )
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.SupplierInvoiceCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.SupplierInvoice]:
        body_date(data.invoice_date, "invoice_date")  # a day the books can hold, on every backend
        invoice = await erp.create_supplier_invoice(session, data, op)
        return versioned(invoice, status_code=201, location=f"{API}/supplier-invoices/{invoice.invoice_id}")

    @get(responses=problems(422), summary="List supplier invoices and credit notes")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        po_id: QueryId = None,
        lot_id: QueryId = None,
        status: FromQuery[m.InvoiceStatus | None] = None,
    ) -> Page[m.SupplierInvoice]:
        return await erp.list_supplier_invoices(session, page_query, po_id, lot_id, status)

    @get("/{invoice_id:str}", responses=problems(404), summary="Get a supplier invoice")
    async def get(self, session: Session, erp: Erp, invoice_id: PathId) -> Response[m.SupplierInvoice]:
        return versioned(await erp.get_supplier_invoice(session, invoice_id))

    @post(
        "/{invoice_id:str}/payment",
        status_code=200,
        responses=problems(404, 409, 422),
        summary="Settle a supplier invoice in full",
        description="409 payment-blocked (naming the held lots) while a lot of it is on a payment hold. "
        "A paid_on outside 1900..2999 is a 422 invalid-date; on Tryton, one of no open accounting "
        "period a 422 no-open-period.",
    )
    async def pay(
        self,
        session: Session,
        erp: Erp,
        invoice_id: PathId,
        data: JSONBody[m.InvoicePayment],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.SupplierInvoice]:
        body_date(data.paid_on, "paid_on")
        return versioned(await erp.pay_supplier_invoice(session, invoice_id, data, op))


class ReturnSettlementController(Controller):
    path = "/return-settlements"
    tags = ["supplier invoices"]

    @post(
        status_code=200,
        responses=problems(404, 422),
        summary="Settle a return to vendor with the supplier",
        description="A credit note when the returned goods were invoiced; otherwise the receipt's "
        "invoice to come bills only what was kept. Once per return: a repeat answers the first.",
    )
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.ReturnSettlementCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> m.ReturnSettlement:
        return await holds.settle_return(erp, session, data, op)


class DeliveryController(Controller):
    path = "/deliveries"
    tags = ["deliveries"]

    @post(
        responses=problems(409, 422),
        summary="Ship lots to a customer (an outbound shipment)",
        description="A lot any of which is BLOCKED or in QUALITY_INSPECTION is refused with 409 "
        "lot-on-hold; GET /lots/{lot_id}/eligibility says why before you try.",
    )
    async def create(
        self,
        session: Session,
        erp: Erp,
        data: JSONBody[m.DeliveryCreate],
        op: Op,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[m.Delivery]:
        delivery = await erp.create_delivery(session, data, op)
        return versioned(delivery, status_code=201, location=f"{API}/deliveries/{delivery.delivery_id}")

    @get(responses=problems(422), summary="List deliveries")
    async def list(
        self,
        session: Session,
        erp: Erp,
        page_query: Q,
        customer_id: QueryId = None,
        order_ref: QueryId = None,
    ) -> Page[m.Delivery]:
        return await erp.list_deliveries(session, page_query, customer_id, order_ref)

    @get("/{delivery_id:str}", responses=problems(404), summary="Get a delivery")
    async def get(self, session: Session, erp: Erp, delivery_id: PathId) -> Response[m.Delivery]:
        return versioned(await erp.get_delivery(session, delivery_id))


ROUTES = [
    ItemController,
    SupplierController,
    PurchaseOrderController,
    GoodsReceiptController,
    ProductionReceiptController,
    LotController,
    InventoryTransactionController,
    CostPostingController,
    PurchaseRequisitionController,
    SupplierInvoiceController,
    ReturnSettlementController,
    DeliveryController,
]
