"""Rows to wire shapes."""

from __future__ import annotations

import msgspec

from contracts.kit.paging import as_utc
from contracts.models import erp as m
from system_apis.erp import store as s


def item(row: s.ItemRow) -> m.Item:
    return m.Item(
        item_id=row.id,
        description=row.description,
        item_type=m.ItemType(row.item_type),
        base_uom=row.base_uom,
        lot_tracked=row.lot_tracked,
        inspection_required=row.inspection_required,
        reorder_point=row.reorder_point,
        standard_price=row.standard_price,
        price_currency=row.price_currency,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def supplier(row: s.SupplierRow) -> m.Supplier:
    return m.Supplier(
        supplier_id=row.id,
        name=row.name,
        country=row.country,
        email=row.email,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def purchase_order(row: s.PurchaseOrderRow) -> m.PurchaseOrder:
    return m.PurchaseOrder(
        po_id=row.id,
        supplier_id=row.supplier_id,
        status=m.PurchaseOrderStatus(row.status),
        reference=row.reference,
        lines=[
            m.PurchaseOrderLine(
                line_no=line.line_no,
                item_id=line.item_id,
                quantity=line.quantity,
                received_quantity=line.received_quantity,
                unit_price=line.unit_price,
                currency=line.currency,
            )
            for line in row.lines
        ],
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def lot(row: s.LotRow) -> m.Lot:
    balances = [
        m.Balance(location=b.location, status=m.StockStatus(b.status), quantity=b.quantity)
        for b in row.balances
        if b.quantity > 0
    ]
    return m.Lot(
        lot_id=row.id,
        item_id=row.item_id,
        supplier_id=row.supplier_id,
        supplier_lot=row.supplier_lot,
        origin=row.origin,
        quantity=round(sum(b.quantity for b in balances), 3),
        balances=balances,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def receipt(row: s.GoodsReceiptRow) -> m.GoodsReceipt:
    return m.GoodsReceipt(
        receipt_id=row.id,
        source=row.source,
        po_id=row.po_id,
        line_no=row.line_no,
        production_order=row.production_order,
        item_id=row.item_id,
        supplier_id=row.supplier_id,
        lot_id=row.lot_id,
        quantity=row.quantity,
        location=row.location,
        stock_status=m.StockStatus(row.stock_status),
        txn_id=row.txn_id,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def transaction(row: s.InventoryTxnRow) -> m.InventoryTransaction:
    return m.InventoryTransaction(
        txn_id=row.id,
        type=m.MovementType(row.type),
        lot_id=row.lot_id,
        item_id=row.item_id,
        quantity=row.quantity,
        location=row.location,
        to_location=row.to_location,
        from_status=m.StockStatus(row.from_status) if row.from_status else None,
        to_status=m.StockStatus(row.to_status) if row.to_status else None,
        order_ref=row.order_ref,
        cost_centre=row.cost_centre,
        reason=row.reason,
        reverses=row.reverses,
        reversed_by=row.reversed_by,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        quality_ref=msgspec.convert(row.quality_ref, m.QualityRef) if row.quality_ref else None,
    )


def cost_posting(row: s.CostPostingRow) -> m.CostPosting:
    return m.CostPosting(
        posting_id=row.id,
        amount=row.amount,
        currency=row.currency,
        cost_centre=row.cost_centre,
        kind=m.CostKind(row.kind),
        order_ref=row.order_ref,
        description=row.description,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )
