"""Staging the ERP's events for a posted transaction or receipt, the same for every backend."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.repository import announce
from contracts.models import erp as m

SOURCE = "/plantbridge/erp"


def quality_reference(ref: m.QualityRef | None) -> ev.QualityReference | None:
    if ref is None:
        return None
    return ev.QualityReference(kind=ref.kind, record_id=ref.record_id, disposition=ref.disposition)


async def transaction_posted(session: AsyncSession, txn: m.InventoryTransaction) -> None:
    """`erp.inventory_txn.posted.v1`, and `erp.stock.status_changed.v1` when the status changed."""
    await announce(
        session,
        SOURCE,
        txn,
        ev.InventoryTxnPosted,
        quality_ref=quality_reference(txn.quality_ref),
        subject=txn.txn_id,
    )
    if txn.from_status != txn.to_status:
        await announce(
            session,
            SOURCE,
            txn,
            ev.StockStatusChanged,
            location=txn.to_location or txn.location,
            subject=txn.lot_id,
        )


async def receipt_posted(
    session: AsyncSession, receipt: m.GoodsReceipt, *, inspection_required: bool
) -> None:
    await announce(
        session,
        SOURCE,
        receipt,
        ev.GoodsReceiptPosted,
        inspection_required=inspection_required,
        subject=receipt.receipt_id,
    )
