"""Staging the ERP's events for a posted transaction or receipt, the same for every backend."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit import outbox
from contracts.models import erp as m

SOURCE = "/plantbridge/erp"


def quality_reference(ref: m.QualityRef | None) -> ev.QualityReference | None:
    if ref is None:
        return None
    return ev.QualityReference(kind=ref.kind, record_id=ref.record_id, disposition=ref.disposition)


async def transaction_posted(session: AsyncSession, txn: m.InventoryTransaction) -> None:
    """`erp.inventory_txn.posted.v1`, and `erp.stock.status_changed.v1` when the status changed."""
    await outbox.publish(
        session,
        SOURCE,
        txn.txn_id,
        ev.InventoryTxnPosted(
            txn_id=txn.txn_id,
            type=txn.type,
            lot_id=txn.lot_id,
            item_id=txn.item_id,
            quantity=txn.quantity,
            location=txn.location,
            to_location=txn.to_location,
            from_status=txn.from_status,
            to_status=txn.to_status,
            order_ref=txn.order_ref,
            cost_centre=txn.cost_centre,
            reverses=txn.reverses,
            quality_ref=quality_reference(txn.quality_ref),
        ),
    )
    if txn.from_status != txn.to_status:
        await outbox.publish(
            session,
            SOURCE,
            txn.lot_id,
            ev.StockStatusChanged(
                lot_id=txn.lot_id,
                item_id=txn.item_id,
                location=txn.to_location or txn.location,
                from_status=txn.from_status,
                to_status=txn.to_status,
                quantity=txn.quantity,
                txn_id=txn.txn_id,
            ),
        )


async def receipt_posted(
    session: AsyncSession, receipt: m.GoodsReceipt, *, inspection_required: bool
) -> None:
    await outbox.publish(
        session,
        SOURCE,
        receipt.receipt_id,
        ev.GoodsReceiptPosted(
            receipt_id=receipt.receipt_id,
            source=receipt.source,
            item_id=receipt.item_id,
            lot_id=receipt.lot_id,
            quantity=receipt.quantity,
            location=receipt.location,
            stock_status=receipt.stock_status,
            inspection_required=inspection_required,
            po_id=receipt.po_id,
            line_no=receipt.line_no,
            supplier_id=receipt.supplier_id,
            production_order=receipt.production_order,
        ),
    )
