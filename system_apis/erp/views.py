"""Rows to wire shapes."""

from __future__ import annotations

import msgspec

from contracts.kit.repository import to_wire, view_as
from contracts.models import erp as m
from system_apis.erp import store as s

item = view_as(m.Item, "item_id")
supplier = view_as(m.Supplier, "supplier_id")
purchase_order = view_as(m.PurchaseOrder, "po_id")


def lot(row: s.LotRow) -> m.Lot:
    balances = [
        m.Balance(location=b.location, status=m.StockStatus(b.status), quantity=b.quantity)
        for b in row.balances
        if b.quantity > 0
    ]
    quantity = round(sum(b.quantity for b in balances), 3)
    return to_wire(row, m.Lot, lot_id=row.id, quantity=quantity, balances=balances)


receipt = view_as(m.GoodsReceipt, "receipt_id")


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


cost_posting = view_as(m.CostPosting, "posting_id")
