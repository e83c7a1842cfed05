"""Rows to wire shapes."""

from __future__ import annotations

import msgspec

from contracts.kit.paging import as_utc
from contracts.kit.repository import to_wire
from contracts.models import erp as m
from system_apis.erp import store as s


def item(row: s.ItemRow) -> m.Item:
    return to_wire(row, m.Item, item_id=row.id)


def supplier(row: s.SupplierRow) -> m.Supplier:
    return to_wire(row, m.Supplier, supplier_id=row.id)


def purchase_order(row: s.PurchaseOrderRow) -> m.PurchaseOrder:
    return to_wire(row, m.PurchaseOrder, po_id=row.id)


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
    return to_wire(row, m.GoodsReceipt, receipt_id=row.id)


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
    return to_wire(row, m.CostPosting, posting_id=row.id)
