"""ERP use cases. Each runs inside the request's transaction and stages its events there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit import core_records
from contracts.kit import repository as repo
from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, PageQuery, check_if_match
from contracts.kit.problems import Conflict, IllegalTransition, Unprocessable
from contracts.kit.records import new_id
from contracts.models import erp as m
from system_apis.erp import domain, events, views
from system_apis.erp import store as s

SOURCE = "/plantbridge/erp"


# --- items and suppliers -----------------------------------------------------------------------
async def create_item(session: AsyncSession, data: m.ItemCreate) -> m.Item:
    await repo.absent_or_409(session, s.ItemRow, data.item_id, "item")
    price = _money(data.standard_price) if data.standard_price is not None else None
    row = repo.to_row(s.ItemRow, data, id=data.item_id, standard_price=price)
    await repo.insert(session, row)
    return views.item(row)


async def update_item(
    session: AsyncSession, item_id: str, data: m.ItemUpdate, if_match: str | None
) -> m.Item:
    row = await repo.get_versioned(session, s.ItemRow, item_id, "item", if_match)
    if data.description is not None:
        row.description = data.description
    if data.inspection_required is not None:
        row.inspection_required = data.inspection_required
    if data.reorder_point is not None:
        row.reorder_point = data.reorder_point
    if data.standard_price is not None:
        row.standard_price = _money(data.standard_price)
    row.touch()
    await session.flush()
    return views.item(row)


get_item = repo.reader(s.ItemRow, "item", views.item)


async def item_stock(session: AsyncSession, item_id: str) -> m.ItemStock:
    item = await repo.get_or_404(session, s.ItemRow, item_id, "item")
    totals = dict.fromkeys(m.StockStatus, 0.0)
    rows = await session.execute(
        select(s.StockRow.status, func.sum(s.StockRow.quantity))
        .join(s.LotRow, s.LotRow.id == s.StockRow.lot_id)
        .where(s.LotRow.item_id == item_id)
        .group_by(s.StockRow.status)
    )
    for status, quantity in rows.all():
        totals[m.StockStatus(status)] = round(float(quantity or 0.0), domain.PRECISION)
    unrestricted = totals[m.StockStatus.UNRESTRICTED]
    return m.ItemStock(
        item_id=item.id,
        base_uom=item.base_uom,
        unrestricted=unrestricted,
        quality_inspection=totals[m.StockStatus.QUALITY_INSPECTION],
        blocked=totals[m.StockStatus.BLOCKED],
        reorder_point=item.reorder_point,
        below_reorder_point=item.reorder_point is not None and unrestricted < item.reorder_point,
    )


async def list_items(session: AsyncSession, q: PageQuery, item_type: m.ItemType | None) -> Page[m.Item]:
    where = [s.ItemRow.item_type == item_type] if item_type else []
    return await repo.list_page(session, s.ItemRow, views.item, q, where=where)


async def create_supplier(session: AsyncSession, data: m.SupplierCreate) -> m.Supplier:
    await repo.absent_or_409(session, s.SupplierRow, data.supplier_id, "supplier")
    row = repo.to_row(s.SupplierRow, data, id=data.supplier_id)
    await repo.insert(session, row)
    return views.supplier(row)


get_supplier = repo.reader(s.SupplierRow, "supplier", views.supplier)


async def list_suppliers(session: AsyncSession, q: PageQuery) -> Page[m.Supplier]:
    return await repo.list_page(session, s.SupplierRow, views.supplier, q)


# --- purchase orders ---------------------------------------------------------------------------
async def create_purchase_order(session: AsyncSession, data: m.PurchaseOrderCreate) -> m.PurchaseOrder:
    await repo.exists_or_422(session, s.SupplierRow, data.supplier_id, "supplier")
    row = s.PurchaseOrderRow(
        id=new_id("PO"),
        supplier_id=data.supplier_id,
        status=m.PurchaseOrderStatus.OPEN,
        reference=data.reference,
        lines=[],
    )
    for number, line in enumerate(data.lines, start=1):
        await repo.exists_or_422(session, s.ItemRow, line.item_id, "item")
        row.lines.append(
            s.PurchaseOrderLineRow(
                line_no=number,
                item_id=line.item_id,
                quantity=kept_quantity(line.quantity),
                received_quantity=0.0,
                unit_price=_money(line.unit_price) if line.unit_price is not None else None,
                currency=line.currency,
            )
        )
    await repo.insert(session, row)
    return views.purchase_order(row)


get_purchase_order = repo.reader(s.PurchaseOrderRow, "purchase order", views.purchase_order)


async def list_purchase_orders(
    session: AsyncSession, q: PageQuery, supplier_id: str | None, statuses: Sequence[m.PurchaseOrderStatus]
) -> Page[m.PurchaseOrder]:
    """One page of the purchase orders of `supplier_id` (when given) in any of `statuses` (when
    any are given)."""
    where = [s.PurchaseOrderRow.status.in_(statuses)] if statuses else []
    return await repo.list_page(
        session, s.PurchaseOrderRow, views.purchase_order, q, where=where, supplier_id=supplier_id
    )


async def cancel_purchase_order(session: AsyncSession, po_id: str, if_match: str | None) -> m.PurchaseOrder:
    row = await repo.get_versioned(session, s.PurchaseOrderRow, po_id, "purchase order", if_match)
    if row.status != m.PurchaseOrderStatus.OPEN:
        raise IllegalTransition("purchase order", row.status, "cancel")
    row.status = m.PurchaseOrderStatus.CANCELLED
    await session.flush()
    return views.purchase_order(row)


# --- receipts ----------------------------------------------------------------------------------
async def post_goods_receipt(session: AsyncSession, data: m.GoodsReceiptCreate) -> m.GoodsReceipt:
    po = await repo.get_or_422(session, s.PurchaseOrderRow, data.po_id, "purchase order", lock=True)
    if po.status not in (m.PurchaseOrderStatus.OPEN, m.PurchaseOrderStatus.PARTIALLY_RECEIVED):
        raise IllegalTransition("purchase order", po.status, "receive goods")
    line = next((li for li in po.lines if li.line_no == data.line_no), None)
    if line is None:
        raise Unprocessable(f"purchase order {po.id} has no line {data.line_no}", slug="unknown-po-line")
    quantity = kept_quantity(data.quantity)
    open_quantity = round(line.quantity - line.received_quantity, domain.PRECISION)
    if quantity > open_quantity + 1e-9:
        raise Conflict(
            f"line {line.line_no} of {po.id} has {open_quantity:g} open; {quantity:g} would over-receive",
            slug="over-receipt",
            open_quantity=open_quantity,
        )
    item = await repo.get_or_422(session, s.ItemRow, line.item_id, "item")
    line.received_quantity = round(line.received_quantity + quantity, domain.PRECISION)
    fully = all(li.received_quantity + 1e-9 >= li.quantity for li in po.lines)
    po.status = m.PurchaseOrderStatus.RECEIVED if fully else m.PurchaseOrderStatus.PARTIALLY_RECEIVED
    po.touch()
    return await _receive(
        session,
        item,
        quantity=quantity,
        location=data.location,
        lot_id=data.lot_id,
        origin="purchase",
        supplier_id=po.supplier_id,
        supplier_lot=data.supplier_lot,
        po_id=po.id,
        line_no=line.line_no,
        production_order=None,
        status=domain.receipt_status(item.inspection_required),
    )


async def post_production_receipt(session: AsyncSession, data: m.ProductionReceiptCreate) -> m.GoodsReceipt:
    item = await repo.get_or_422(session, s.ItemRow, data.item_id, "item")
    status = data.stock_status or domain.receipt_status(item.inspection_required)
    return await _receive(
        session,
        item,
        quantity=kept_quantity(data.quantity),
        location=data.location,
        lot_id=data.lot_id,
        origin="production",
        supplier_id=None,
        supplier_lot=None,
        po_id=None,
        line_no=None,
        production_order=data.production_order,
        status=status,
    )


async def _receive(
    session: AsyncSession,
    item: s.ItemRow,
    *,
    quantity: float,
    location: str,
    lot_id: str | None,
    origin: str,
    supplier_id: str | None,
    supplier_lot: str | None,
    po_id: str | None,
    line_no: int | None,
    production_order: str | None,
    status: m.StockStatus,
) -> m.GoodsReceipt:
    lot = await core_records.find(session, s.LotRow, lot_id, lock=True) if lot_id else None
    if lot is None:
        lot = s.LotRow(
            id=lot_id or new_id("LOT"),
            item_id=item.id,
            supplier_id=supplier_id,
            supplier_lot=supplier_lot,
            origin=origin,
            balances=[],
        )
        await core_records.add(session, lot)
    elif lot.item_id != item.id:
        raise Conflict(f"lot {lot.id} holds item {lot.item_id}, not {item.id}", slug="lot-item-mismatch")
    movement = domain.recorded_movement(
        m.MovementType.RECEIPT,
        location=location,
        quantity=quantity,
        from_status=None,
        to_status=status,
        to_location=None,
    )
    txn = await post_planned(
        session, lot, movement, order_ref=production_order, cost_centre=None, reason=None
    )
    receipt = s.GoodsReceiptRow(
        id=new_id("GR"),
        source=origin,
        po_id=po_id,
        line_no=line_no,
        production_order=production_order,
        item_id=item.id,
        supplier_id=supplier_id,
        lot_id=lot.id,
        quantity=quantity,
        location=location,
        stock_status=status,
        txn_id=txn.id,
    )
    await repo.insert(session, receipt)
    view = views.receipt(receipt)
    await events.receipt_posted(session, view, inspection_required=item.inspection_required)
    return view


get_goods_receipt = repo.reader(s.GoodsReceiptRow, "goods receipt", views.receipt)


async def list_goods_receipts(
    session: AsyncSession,
    q: PageQuery,
    po_id: str | None,
    supplier_id: str | None = None,
    lot_id: str | None = None,
) -> Page[m.GoodsReceipt]:
    """Receipts never change once posted: by supplier they are its delivery history."""
    r = s.GoodsReceiptRow
    where = [
        column == value
        for column, value in ((r.po_id, po_id), (r.supplier_id, supplier_id), (r.lot_id, lot_id))
        if value
    ]
    return await repo.list_page(session, r, views.receipt, q, where=where)


# --- lots and movements ------------------------------------------------------------------------
get_lot = repo.reader(s.LotRow, "lot", views.lot)


async def list_lots(
    session: AsyncSession,
    q: PageQuery,
    item_id: str | None,
    supplier_id: str | None,
    status: m.StockStatus | None,
    supplier_lot: str | None = None,
) -> Page[m.Lot]:
    holding = select(s.StockRow.lot_id).where(s.StockRow.status == status, s.StockRow.quantity > 0)
    return await repo.list_page(
        session,
        s.LotRow,
        views.lot,
        q,
        where=[s.LotRow.id.in_(holding)] if status else [],
        item_id=item_id,
        supplier_id=supplier_id,
        supplier_lot=supplier_lot,
    )


async def post_movement(
    session: AsyncSession, data: m.InventoryTransactionCreate, if_match: str | None
) -> m.InventoryTransaction:
    lot = await locked_lot(session, data.lot_id, repo.unknown)
    check_if_match(if_match, lot.version)
    movement = domain.plan_movement(
        balances_of(lot),
        m.MovementType(data.type),
        location=data.location,
        quantity=data.quantity,
        from_status=data.from_status,
        to_location=data.to_location,
        order_ref=data.order_ref,
    )
    txn = await post_planned(
        session,
        lot,
        movement,
        order_ref=data.order_ref,
        cost_centre=data.cost_centre,
        reason=data.reason,
        quality_ref=data.quality_ref,
    )
    return views.transaction(txn)


async def reverse_movement(
    session: AsyncSession, txn_id: str, data: m.ReversalCreate
) -> m.InventoryTransaction:
    original = await repo.get_or_404(session, s.InventoryTxnRow, txn_id, "inventory transaction", lock=True)
    if original.reversed_by:
        raise Conflict(f"{txn_id} was already reversed by {original.reversed_by}", slug="already-reversed")
    lot = await locked_lot(session, original.lot_id, repo.not_found)
    recorded = domain.recorded_movement(
        m.MovementType(original.type),
        location=original.location,
        quantity=original.quantity,
        from_status=_status(original.from_status),
        to_status=_status(original.to_status),
        to_location=original.to_location,
    )
    reversal = domain.plan_reversal(balances_of(lot), recorded)
    txn = await post_planned(
        session,
        lot,
        reversal,
        order_ref=original.order_ref,
        cost_centre=original.cost_centre,
        reason=data.reason,
        reverses=original.id,
        quality_ref=data.quality_ref,
    )
    original.reversed_by = txn.id
    await session.flush()
    return views.transaction(txn)


get_movement = repo.reader(s.InventoryTxnRow, "inventory transaction", views.transaction)


async def list_movements(
    session: AsyncSession,
    q: PageQuery,
    lot_id: str | None,
    type_: m.MovementType | None,
    order_ref: str | None,
) -> Page[m.InventoryTransaction]:
    return await repo.list_page(
        session, s.InventoryTxnRow, views.transaction, q, lot_id=lot_id, type=type_, order_ref=order_ref
    )


async def post_planned(
    session: AsyncSession,
    lot: s.LotRow,
    movement: domain.Movement,
    *,
    order_ref: str | None,
    cost_centre: str | None,
    reason: str | None,
    reverses: str | None = None,
    quality_ref: m.QualityRef | None = None,
) -> s.InventoryTxnRow:
    """Apply a planned movement to the lot's balances, record it, and stage its events; `lot`
    comes from `locked_lot` (the stock paths run on Core, contracts/kit/core_records.py)."""
    balances = domain.apply(balances_of(lot), movement.deltas)
    rows = {(b.location, b.status): b for b in lot.balances}
    for key, quantity in balances.items():
        if key in rows:
            rows[key].quantity = quantity
        elif quantity:
            lot.balances.append(s.StockRow(location=key[0], status=key[1], quantity=quantity))
    await core_records.save(session, lot)
    txn = repo.to_row(  # what moved where, from the plan
        s.InventoryTxnRow,
        movement,
        id=new_id("TXN"),
        lot_id=lot.id,
        item_id=lot.item_id,
        order_ref=order_ref,
        cost_centre=cost_centre,
        reason=reason,
        reverses=reverses,
        quality_ref=msgspec.to_builtins(quality_ref) if quality_ref else None,
    )
    await core_records.add(session, txn)
    await events.transaction_posted(session, views.transaction(txn))
    return txn


async def locked_lot(
    session: AsyncSession, lot_id: str, missing: Callable[[str, str], Exception]
) -> s.LotRow:
    """A lot and its balances, read on Core and locked for the movement about to be posted."""
    lot = await core_records.find(session, s.LotRow, lot_id, lock=True)
    if lot is None:
        raise missing("lot", lot_id)
    return lot


def balances_of(lot: s.LotRow) -> dict[domain.Key, float]:
    return {(b.location, m.StockStatus(b.status)): b.quantity for b in lot.balances}


def _status(value: str | None) -> m.StockStatus | None:
    return m.StockStatus(value) if value else None


# --- costs -------------------------------------------------------------------------------------
async def post_cost(session: AsyncSession, data: m.CostPostingCreate) -> m.CostPosting:
    amount = _money(data.amount)
    row = repo.to_row(s.CostPostingRow, data, id=new_id("COST"), amount=amount)
    await repo.insert(session, row)
    await repo.announce(session, SOURCE, row, ev.CostPosted, posting_id=row.id, amount=amount)
    return views.cost_posting(row)


get_cost = repo.reader(s.CostPostingRow, "cost posting", views.cost_posting)


async def list_costs(
    session: AsyncSession, q: PageQuery, order_ref: str | None, cost_centre: str | None
) -> Page[m.CostPosting]:
    return await repo.list_page(
        session, s.CostPostingRow, views.cost_posting, q, order_ref=order_ref, cost_centre=cost_centre
    )


def _money(amount: str) -> Decimal:
    """The same four decimals the ledger stores, so a response never differs from a later read."""
    return Decimal(amount).quantize(Decimal("0.0001"))
