"""Holds that hold, whichever system of record is behind the API.

- Quality owns releases: stock out of BLOCKED or QUALITY_INSPECTION (but into BLOCKED) needs the
  scope `erp:release`, which only the platform's quality clients hold, and the quality decision that
  allows it (`quality_ref`). Checked here, before a backend is asked to move anything.
- Payment holds: a lot's hold blocks payment of every supplier invoice of the lot's receipts,
  those posted already and those posted later; quality sets it and releases it. The hold is ours
  (this service's tables); the block on each invoice is the backend's (`sync_payment_block`).
- Shipping eligibility: a lot ships only when none of it is held.
- Return settlements: a return to vendor is settled once, by a credit note when its receipt was
  invoiced, or by a lower invoiceable quantity when it was not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit import core_records
from contracts.kit.paging import Page, PageQuery
from contracts.kit.problems import Conflict, Problem, Unprocessable
from contracts.kit.repository import announce, insert, to_wire
from contracts.models import erp as m
from system_apis.erp import domain, events
from system_apis.erp import store as s
from system_apis.erp.events import SOURCE
from system_apis.erp.port import ErpBackend, Operation

RELEASE_SCOPE = "erp:release"
_ALL = PageQuery(limit=500, cursor=None, updated_since=None)  # a lot's few receipts and returns


class QualityReleaseRequired(Problem):
    status, slug, title = 403, "quality-release-required", "Only quality may release held stock"


class QualityRefRequired(Unprocessable):
    slug, title = "quality-ref-required", "A quality reference is required"


class QualityRefMismatch(Unprocessable):
    slug, title = "quality-ref-mismatch", "The quality reference does not allow this"


class PaymentBlocked(Conflict):
    slug, title = "payment-blocked", "Payment is blocked"


# --- quality owns releases ---------------------------------------------------------------------
def check_release(
    scopes: Collection[str],
    movement: m.MovementType,
    source: m.StockStatus | None,
    target: m.StockStatus | None,
    ref: m.QualityRef | None,
) -> None:
    """Refuse stock out of a hold unless the caller is quality and names the decision."""
    if not domain.leaves_hold(source, target):
        return
    missing = [f"scope {RELEASE_SCOPE}"] if RELEASE_SCOPE not in scopes else []
    if ref is None:
        missing.append("quality_ref")
    action = f"{movement} out of {source}"
    allowed = sorted(domain.RELEASED_BY.get(movement, ()))
    wanted = (
        f"the usage decision or nonconformance disposition ({' or '.join(allowed)}) that allows it"
        if allowed
        else "the quality decision that allows it"
    )
    if RELEASE_SCOPE not in scopes:
        raise QualityReleaseRequired(
            f"{action} is a quality release: it needs the scope {RELEASE_SCOPE} (held by quality "
            f"clients) and a quality_ref naming {wanted}. Missing: {', '.join(missing)}.",
            missing=missing,
            headers={
                "WWW-Authenticate": f'Bearer realm="plantbridge", error="insufficient_scope", '
                f'scope="{RELEASE_SCOPE}"'
            },
        )
    if ref is None:
        raise QualityRefRequired(f"{action} needs a quality_ref: {wanted}.", missing=missing)
    if allowed and ref.disposition not in allowed:
        raise QualityRefMismatch(
            f"{ref.kind} {ref.record_id} decided {ref.disposition}, which does not allow {action} "
            f"(allowed: {', '.join(allowed)})",
            allowed=allowed,
        )


def check_movement(scopes: Collection[str], data: m.InventoryTransactionCreate) -> None:
    movement = m.MovementType(data.type)
    source, target = domain.requested_statuses(movement, data.from_status)
    check_release(scopes, movement, source, target, data.quality_ref)


def check_reversal(scopes: Collection[str], original: m.InventoryTransaction, data: m.ReversalCreate) -> None:
    """A reversal moves the stock back: from where the original put it to where it took it (one
    that cannot be reversed at all is refused as such first)."""
    domain.check_reversible(m.MovementType(original.type))
    check_release(scopes, m.MovementType.REVERSAL, original.to_status, original.from_status, data.quality_ref)


def quality_ref_json(ref: m.QualityRef | None) -> dict[str, Any] | None:
    return msgspec.to_builtins(ref) if ref is not None else None


def quality_ref_of(stored: dict[str, Any] | None) -> m.QualityRef | None:
    return msgspec.convert(stored, m.QualityRef) if stored else None


# --- payment holds ---------------------------------------------------------------------------------
async def held_lots(session: AsyncSession, lot_ids: Iterable[str]) -> set[str]:
    """Which of these lots have an active payment hold."""
    wanted = set(lot_ids)
    if not wanted:
        return set()
    found = await session.scalars(
        select(s.PaymentHoldRow.id).where(s.PaymentHoldRow.id.in_(wanted), s.PaymentHoldRow.active)
    )
    return set(found)


def payment_block(lot_ids: Iterable[str], held: set[str]) -> m.PaymentBlock:
    lots = sorted({lot for lot in lot_ids if lot in held})
    return m.PaymentBlock(blocked=bool(lots), lots=lots)


def refuse_blocked(invoice: m.SupplierInvoice) -> None:
    if invoice.payment_block.blocked:
        lots = ", ".join(invoice.payment_block.lots)
        raise PaymentBlocked(
            f"invoice {invoice.invoice_id} may not be paid: lot(s) {lots} of its receipts are on a "
            "payment hold until quality releases them",
            lots=invoice.payment_block.lots,
        )


def _hold_view(row: s.PaymentHoldRow, invoices: list[str]) -> m.PaymentHold:
    return to_wire(
        row,
        m.PaymentHold,
        lot_id=row.id,
        quality_ref=quality_ref_of(row.quality_ref),
        released_by=quality_ref_of(row.released_by),
        blocked_invoices=invoices if row.active else [],
    )


async def set_payment_hold(
    erp: ErpBackend, session: AsyncSession, lot_id: str, data: m.PaymentHoldCreate, op: Operation
) -> m.PaymentHold:
    """Hold the lot's invoices; holding a held lot changes nothing (and announces nothing)."""
    await erp.get_lot(session, lot_id)  # 404 for a lot the ERP does not know
    row = await core_records.find(session, s.PaymentHoldRow, lot_id, lock=True)
    if row is not None and row.active:
        return _hold_view(row, await erp.sync_payment_block(session, lot_id, op))
    new = row is None
    if row is None:
        row = s.PaymentHoldRow(id=lot_id)
    row.active, row.reason = True, data.reason
    row.quality_ref, row.released_by = quality_ref_json(data.quality_ref), None
    await (core_records.add(session, row) if new else core_records.save(session, row))
    invoices = await erp.sync_payment_block(session, lot_id, op)
    await _announce(session, row, invoices)
    return _hold_view(row, invoices)


async def release_payment_hold(
    erp: ErpBackend,
    session: AsyncSession,
    scopes: Collection[str],
    lot_id: str,
    data: m.PaymentHoldRelease,
    op: Operation,
) -> m.PaymentHold:
    """Lift the hold (quality only, naming the release decision); lifting a lifted hold is a no-op."""
    if RELEASE_SCOPE not in scopes:
        raise QualityReleaseRequired(
            f"releasing a payment hold needs the scope {RELEASE_SCOPE} (held by quality clients)",
            missing=[f"scope {RELEASE_SCOPE}"],
        )
    allowed = domain.RELEASED_BY[m.MovementType.RELEASE]
    if data.quality_ref.disposition not in allowed:
        raise QualityRefMismatch(
            f"{data.quality_ref.kind} {data.quality_ref.record_id} decided "
            f"{data.quality_ref.disposition}, which does not release a payment hold "
            f"(allowed: {', '.join(sorted(allowed))})",
            allowed=sorted(allowed),
        )
    row = await core_records.find(session, s.PaymentHoldRow, lot_id, lock=True)
    if row is None:
        raise core_records.not_found("payment hold", lot_id)
    if not row.active:
        return _hold_view(row, [])
    row.active = False
    row.released_by = quality_ref_json(data.quality_ref)
    await core_records.save(session, row)
    invoices = await erp.sync_payment_block(session, lot_id, op)
    await _announce(session, row, invoices)
    return _hold_view(row, invoices)


async def get_payment_hold(session: AsyncSession, lot_id: str) -> m.PaymentHold | None:
    row = await session.get(s.PaymentHoldRow, lot_id)
    return _hold_view(row, []) if row is not None else None


async def _announce(session: AsyncSession, row: s.PaymentHoldRow, invoices: list[str]) -> None:
    await announce(
        session,
        SOURCE,
        row,
        ev.PaymentHoldChanged,
        lot_id=row.id,
        invoice_ids=invoices,
        quality_ref=events.quality_reference(quality_ref_of(row.released_by or row.quality_ref)),
    )


# --- shipping eligibility ----------------------------------------------------------------------------
HOLD_REASONS = {
    m.StockStatus.BLOCKED: m.HoldReason.BLOCKED,
    m.StockStatus.QUALITY_INSPECTION: m.HoldReason.QUALITY_INSPECTION,
}


def shipping_holds(lot: m.Lot) -> list[m.ShippingHold]:
    """Why the lot may not ship: any of it held (a lot quality doubts ships nowhere), or nothing free."""
    reasons = [
        m.ShippingHold(
            reason=HOLD_REASONS[b.status],
            detail=f"{b.quantity:g} {b.status} at {b.location}",
            location=b.location,
            quantity=b.quantity,
        )
        for b in lot.balances
        if b.status in domain.HELD and b.quantity > 0
    ]
    if not reasons and not any(b.status is m.StockStatus.UNRESTRICTED for b in lot.balances):
        reasons.append(m.ShippingHold(reason=m.HoldReason.NO_STOCK, detail="no unrestricted stock"))
    return reasons


async def eligibility(erp: ErpBackend, session: AsyncSession, lot_id: str) -> m.LotEligibility:
    lot = await erp.get_lot(session, lot_id)
    reasons = shipping_holds(lot)
    free = sum(b.quantity for b in lot.balances if b.status is m.StockStatus.UNRESTRICTED)
    return m.LotEligibility(
        lot_id=lot.lot_id,
        item_id=lot.item_id,
        eligible_to_ship=not reasons,
        shippable_quantity=round(free, domain.PRECISION) if not reasons else 0.0,
        reasons=reasons,
        payment_hold=await get_payment_hold(session, lot_id),
    )


def refuse_held_lot(lot: m.Lot, line: m.DeliveryLineCreate) -> None:
    """The delivery rule both backends apply before they ship a line."""
    reasons = shipping_holds(lot)
    if any(r.reason is not m.HoldReason.NO_STOCK for r in reasons):
        raise domain.LotOnHold(
            f"lot {lot.lot_id} is on hold and may not ship: " + "; ".join(r.detail for r in reasons),
            lot_id=lot.lot_id,
            held={r.reason: r.quantity for r in reasons if r.quantity},
        )
    free = sum(
        b.quantity
        for b in lot.balances
        if b.status is m.StockStatus.UNRESTRICTED and b.location == line.location
    )
    if free + 1e-9 < line.quantity:
        raise domain.InsufficientStock(
            f"{line.quantity:g} requested but {free:g} UNRESTRICTED of lot {lot.lot_id} at {line.location}",
            available=free,
        )


# --- return settlements ------------------------------------------------------------------------------
def _settlement_view(row: s.ReturnSettlementRow) -> m.ReturnSettlement:
    return to_wire(row, m.ReturnSettlement, txn_id=row.id)


async def settle_return(
    erp: ErpBackend, session: AsyncSession, data: m.ReturnSettlementCreate, op: Operation
) -> m.ReturnSettlement:
    """Once per return: a credit note if the receipt was invoiced, else a reduced invoice to come."""
    txn = await erp.get_movement(session, data.txn_id)
    if txn.type is not m.MovementType.RETURN_TO_VENDOR:
        raise Unprocessable(f"{txn.txn_id} is a {txn.type}, not a return_to_vendor", slug="not-a-return")
    receipts = [
        r for r in (await erp.list_goods_receipts(session, _ALL, None, lot_id=txn.lot_id)).items if r.po_id
    ]
    if not receipts:
        raise Unprocessable(f"lot {txn.lot_id} was not received against a purchase order", slug="no-receipt")
    receipt = receipts[0]
    assert receipt.po_id is not None
    # One settlement of the order's returns (and none of its invoices) at a time, and only then
    # what is settled is read: a system of record without our table (Tryton) posts its credit note
    # before our row is inserted, so concurrent settlements would each post one.
    await s.serialise(session, f"po:{receipt.po_id}")
    done = await session.get(s.ReturnSettlementRow, data.txn_id)
    if done is not None:
        return _settlement_view(done)
    credit = await erp.credit_return(session, receipt, txn.quantity, data.reason or "", op)
    row = s.ReturnSettlementRow(
        id=txn.txn_id,
        lot_id=txn.lot_id,
        receipt_id=receipt.receipt_id,
        po_id=receipt.po_id,
        quantity=txn.quantity,
        outcome=m.ReturnOutcome.CREDIT_NOTE if credit else m.ReturnOutcome.INVOICE_REDUCED,
        credit_note_id=credit.invoice_id if credit else None,
    )
    await insert(session, row)
    return _settlement_view(row)


class MovementLister(Protocol):
    async def list_movements(
        self,
        session: AsyncSession,
        q: PageQuery,
        lot_id: str | None,
        type_: m.MovementType | None,
        order_ref: str | None,
    ) -> Page[m.InventoryTransaction]: ...


async def returned_quantity(erp: MovementLister, session: AsyncSession, lot_id: str) -> float:
    """What of a lot went back to its supplier (so an invoice may not bill it)."""
    page = await erp.list_movements(session, _ALL, lot_id, m.MovementType.RETURN_TO_VENDOR, None)
    return round(sum(t.quantity for t in page.items if not t.reversed_by), domain.PRECISION)
