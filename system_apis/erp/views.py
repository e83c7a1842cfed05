"""Rows to wire shapes."""

from __future__ import annotations

import msgspec

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
    quantity = round(sum(b.quantity for b in balances), 3)
    return to_wire(row, m.Lot, lot_id=row.id, quantity=quantity, balances=balances)


def receipt(row: s.GoodsReceiptRow) -> m.GoodsReceipt:
    return to_wire(row, m.GoodsReceipt, receipt_id=row.id)


def transaction(row: s.InventoryTxnRow) -> m.InventoryTransaction:
    quality_ref = msgspec.convert(row.quality_ref, m.QualityRef) if row.quality_ref else None
    return to_wire(
        row,
        m.InventoryTransaction,
        txn_id=row.id,
        from_status=row.from_status or None,
        to_status=row.to_status or None,
        quality_ref=quality_ref,
    )


def cost_posting(row: s.CostPostingRow) -> m.CostPosting:
    return to_wire(row, m.CostPosting, posting_id=row.id)
