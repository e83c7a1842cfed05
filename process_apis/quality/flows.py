"""The quality flows, as ordered steps over the system APIs.

Every write carries the step's idempotency key, so a retry after a crash, a timeout or an
upstream restart is answered from the upstream's record instead of posting twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.events.quality import ApprovalDecided, ApprovalEscalated, ApprovalRequested, ProcurementNotice
from contracts.kit.flows import FlowType, Step, StepFailed
from contracts.kit.flows.approvals import Approval, ApprovalEvents
from contracts.models import erp, qms, xref
from process_apis.quality.deps import Ctx
from process_apis.quality.identities import ERP, LOT, MES, erp_item, translate
from process_apis.quality.notifications import EMAIL_PROCUREMENT
from process_apis.quality.rules import ApprovalRule
from process_apis.quality.shopfloor import SHOP_FLOOR_STEPS, batches_inspected_apart, decides_production

QI, UNR, BLK = erp.StockStatus.QUALITY_INSPECTION, erp.StockStatus.UNRESTRICTED, erp.StockStatus.BLOCKED
SOURCE = "/plantbridge/quality"  # what this process's events name as their source


def _in_days(days: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


# --- 1. goods receipt → inspection lot --------------------------------------------------------
async def create_receipt_inspection(ctx: Ctx, key_suffix: str = "") -> dict[str, Any]:
    d, rules = ctx.data, ctx.deps.rules
    lot = await ctx.deps.qms.create_inspection_lot(
        qms.InspectionLotCreate(
            origin=qms.InspectionOrigin(d["origin"]),
            item_id=d["item_id"],
            lot_id=d["lot_id"],
            supplier_id=d.get("supplier_id"),
            source_ref=d.get("source_ref"),
            sample_size=max(1, min(rules.sample_size, int(d.get("quantity") or rules.sample_size))),
            characteristics=rules.plan_for(d["item_id"]),
            due_date=_in_days(rules.inspection_due_days),
        ),
        idempotency_key=ctx.idempotency_key + key_suffix,
    )
    return {"inspection_lot_id": lot.inspection_lot_id}


RECEIPT_INSPECTION = FlowType(
    "receipt_inspection",
    "A goods receipt of an inspection-relevant item gets an inspection lot in QMS.",
    (Step("create_inspection_lot", create_receipt_inspection),),
    keys=("lot_id", "supplier_id", "order_id"),
)


# --- 2. usage decision → stock, nonconformance, supplier case ----------------------------------
DECISION_MOVES: dict[str, erp.StockMovement] = {
    qms.Disposition.RELEASE: erp.StockMovement.RELEASE,
    qms.Disposition.USE_AS_IS: erp.StockMovement.RELEASE,
    qms.Disposition.BLOCK: erp.StockMovement.BLOCK,
    qms.Disposition.REWORK: erp.StockMovement.BLOCK,
    qms.Disposition.SCRAP: erp.StockMovement.SCRAP,
    qms.Disposition.RETURN: erp.StockMovement.RETURN_TO_VENDOR,
}


def _approval_rule(ctx: Ctx) -> ApprovalRule | None:
    d = ctx.data
    return ctx.deps.rules.approval_for(d.get("origin") or "", d["disposition"], d["item_id"])


def _needs_approval(ctx: Ctx) -> bool:
    return _approval_rule(ctx) is not None


def _decision_subject(ctx: Ctx) -> str:
    d = ctx.data
    return (
        f"{d['disposition']} of lot {d['lot_id']} ({d['item_id']}): decision {d['code']} on inspection "
        f"{d['inspection_lot_id']} by {d['decided_by']}"
    )


DECISION_APPROVAL = Approval(
    subject=_decision_subject,
    requested_by=lambda ctx: str(ctx.data["decided_by"]),
    # Neither the one the decision names, nor the one whose token made it, nor the one whose
    # token started this flow by hand may approve it.
    requester_keys=lambda ctx: [
        f"name:{ctx.data['decided_by']}",
        *(ctx.data[key] for key in ("decided_by_key", "started_by_key") if ctx.data.get(key)),
    ],
    escalate_after=lambda ctx: timedelta(
        minutes=rule.escalate_after_minutes if (rule := _approval_rule(ctx)) else 0
    ),
    escalate_to=lambda ctx: rule.escalate_to if (rule := _approval_rule(ctx)) else None,
    events=ApprovalEvents(requested=ApprovalRequested, escalated=ApprovalEscalated, decided=ApprovalDecided),
)


# Purchased material that failed stays unpaid until quality releases it; returned goods are settled.
PAYMENT_HOLDS = frozenset({qms.Disposition.BLOCK, qms.Disposition.REWORK, qms.Disposition.SCRAP})
RELEASES = frozenset({qms.Disposition.RELEASE, qms.Disposition.USE_AS_IS})


def quality_ref(kind: erp.QualityRecord, record_id: str, disposition: str) -> erp.QualityRef:
    """What ERP needs to let stock out of a hold: the decision that allows it."""
    return erp.QualityRef(kind=kind, record_id=record_id, disposition=erp.QualityDisposition(disposition))


def _decision(ctx: Ctx) -> erp.QualityRef:
    d = ctx.data
    return quality_ref(erp.QualityRecord.USAGE_DECISION, d["inspection_lot_id"], d["disposition"])


async def read_quality_stock(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    lot = await ctx.deps.erp.get_lot(d["lot_id"])
    held = [{"location": b.location, "quantity": b.quantity} for b in lot.balances if b.status == QI]
    if decides_production(ctx):
        held = await _leave_batches_inspected_apart(ctx, held)
    po_id = None
    if d.get("origin") == qms.InspectionOrigin.GOODS_RECEIPT and d.get("source_ref"):
        po_id = (await ctx.deps.erp.get_goods_receipt(d["source_ref"])).po_id  # the receipt inspected
    return {"balances": held, "supplier_id": lot.supplier_id, "po_id": po_id}


async def _leave_batches_inspected_apart(ctx: Ctx, held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lot's quality-inspection stock less what batches under their own, not yet posted
    inspection put there: this decision did not cover them, so it must not move them."""
    mes_lot = await translate(ctx.deps, LOT, ERP, ctx.data["lot_id"], xref.System.MES)
    batches = await ctx.deps.mes.list_batches(lot_id=mes_lot)
    own = next((b for b in batches if b.batch_id == ctx.data.get("source_ref")), None)
    apart = await batches_inspected_apart(ctx, batches, unsettled=True)
    if own is not None:  # a batch's own inspection: that batch's quantity, at most
        leave = round(sum(b["quantity"] for b in held) - own.quantity, 3)
    else:
        leave = round(sum(b.quantity for b in apart), 3)
    kept = []
    for balance in held:
        taken = round(min(balance["quantity"], max(leave, 0.0)), 3)
        leave = round(leave - taken, 3)
        if balance["quantity"] - taken > 0:
            kept.append({"location": balance["location"], "quantity": round(balance["quantity"] - taken, 3)})
    return kept


async def move_decided_stock(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    movement = DECISION_MOVES[d["disposition"]]
    reason = f"usage decision {d['code']} on {d['inspection_lot_id']} ({d['disposition']})"
    if d["disposition"] == qms.Disposition.USE_AS_IS:
        reason = f"use as is, deviation recorded: {reason}"
    txn_ids, moved = [], 0.0
    for balance in ctx.results["read_stock"]["balances"]:
        txn = await ctx.deps.erp.move_stock(
            erp.InventoryTransactionCreate(
                type=movement,
                lot_id=d["lot_id"],
                quantity=balance["quantity"],
                location=balance["location"],
                from_status=QI,
                reason=reason,
                quality_ref=_decision(ctx),
            ),
            idempotency_key=f"{ctx.idempotency_key}:{balance['location']}",
        )
        txn_ids.append(txn.txn_id)
        moved += txn.quantity
    return {"txn_ids": txn_ids, "quantity": round(moved, 3), "movement": movement.value}


def opens_nonconformance(ctx: Ctx) -> bool:
    return ctx.data["disposition"] in ctx.deps.rules.nonconformance_dispositions


async def open_decision_nonconformance(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    failed = ", ".join(d.get("failed_characteristics") or []) or "none recorded"
    nc_disposition = d["disposition"] if d["disposition"] in set(qms.NcDisposition) else None
    nc = await ctx.deps.qms.open_nonconformance(
        qms.NonconformanceCreate(
            title=f"Lot {d['lot_id']} {d['disposition']} after inspection {d['inspection_lot_id']}",
            severity=ctx.deps.rules.nonconformance_severity,
            description=f"Usage decision {d['code']} by {d['decided_by']}; failed characteristics: {failed}",
            quantity_affected=ctx.results["move_stock"]["quantity"] or None,
            disposition=qms.NcDisposition(nc_disposition) if nc_disposition else None,
            item_id=d["item_id"],
            lot_id=d["lot_id"],
            supplier_id=_supplier(ctx),
            inspection_lot_id=d["inspection_lot_id"],
            reported_by="quality-process",
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"nc_id": nc.nc_id}


def _supplier(ctx: Ctx) -> str | None:
    supplier: str | None = ctx.data.get("supplier_id") or ctx.results["read_stock"].get("supplier_id")
    return supplier


def opens_supplier_case(ctx: Ctx) -> bool:
    return (
        ctx.data.get("origin") == qms.InspectionOrigin.GOODS_RECEIPT
        and _supplier(ctx) is not None
        and ctx.data["disposition"] in ctx.deps.rules.supplier_case_dispositions
    )


async def open_supplier_case(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    supplier = _supplier(ctx)
    assert supplier is not None
    nc_id = ctx.results.get("open_nonconformance", {}).get("nc_id")
    case = await ctx.deps.qms.open_supplier_case(
        qms.SupplierCaseCreate(
            supplier_id=supplier,
            title=f"Rejected lot {d['lot_id']} ({d['item_id']})",
            description=f"Inspection {d['inspection_lot_id']} ended in {d['disposition']}.",
            nc_ids=[nc_id] if nc_id else [],
            lot_ids=[d["lot_id"]],
            po_id=ctx.results["read_stock"].get("po_id"),
            due_date=_in_days(ctx.deps.rules.supplier_case_due_days),
            opened_by="quality-process",
        ),
        idempotency_key=ctx.idempotency_key,
    )
    if ctx.deps.rules.issue_supplier_cases:
        case = await ctx.deps.qms.issue_supplier_case(
            case.case_id,
            qms.TransitionNote(by="quality-process", note="issued by the plant's rule"),
            idempotency_key=f"{ctx.idempotency_key}:issue",
        )
    ctx.publish(
        d["lot_id"],
        ProcurementNotice(
            supplier_id=supplier,
            lot_id=d["lot_id"],
            item_id=d["item_id"],
            disposition=d["disposition"],
            inspection_lot_id=d["inspection_lot_id"],
            nc_id=nc_id,
            supplier_case_id=case.case_id,
            po_id=ctx.results["read_stock"].get("po_id"),
            quantity=ctx.results["move_stock"]["quantity"],
        ),
    )
    return {"supplier_case_id": case.case_id, "issued": case.issued_at is not None}


def purchased(ctx: Ctx) -> bool:
    return ctx.data.get("origin") == qms.InspectionOrigin.GOODS_RECEIPT


async def hold_payment(ctx: Ctx, ref: erp.QualityRef) -> dict[str, Any]:
    hold = await ctx.deps.erp.hold_payment(
        ctx.data["lot_id"],
        erp.PaymentHoldCreate(reason=f"{ref.kind} {ref.record_id}: {ref.disposition}", quality_ref=ref),
        idempotency_key=ctx.idempotency_key,
    )
    return {"held": hold.active, "invoices": hold.blocked_invoices}


async def release_payment(ctx: Ctx, ref: erp.QualityRef) -> dict[str, Any]:
    try:
        hold = await ctx.deps.erp.release_payment(
            ctx.data["lot_id"], erp.PaymentHoldRelease(quality_ref=ref), idempotency_key=ctx.idempotency_key
        )
    except UpstreamProblem as exc:
        if exc.status != 404:
            raise
        return {"released": False}  # the lot's payment was never held
    return {"released": not hold.active, "invoices": hold.blocked_invoices}


async def settle_returns(ctx: Ctx) -> dict[str, Any]:
    """Each return to vendor becomes a credit note, or a lower invoice to come."""
    outcomes = {}
    for txn_id in ctx.results["move_stock"]["txn_ids"]:
        settled = await ctx.deps.erp.settle_return(
            erp.ReturnSettlementCreate(txn_id=txn_id, reason=f"returned: {_decision_text(ctx)}"),
            idempotency_key=f"{ctx.idempotency_key}:{txn_id}",
        )
        outcomes[txn_id] = {"outcome": settled.outcome.value, "credit_note_id": settled.credit_note_id}
    return {"settlements": outcomes}


def _decision_text(ctx: Ctx) -> str:
    d = ctx.data
    if "inspection_lot_id" in d:
        return f"usage decision on {d['inspection_lot_id']}"
    return f"nonconformance {d['nc_id']}"


async def hold_decided_payment(ctx: Ctx) -> dict[str, Any]:
    return await hold_payment(ctx, _decision(ctx))


async def release_decided_payment(ctx: Ctx) -> dict[str, Any]:
    return await release_payment(ctx, _decision(ctx))


async def confirm_stock_posted(ctx: Ctx) -> dict[str, Any]:
    await ctx.deps.qms.mark_stock_posted(
        ctx.data["inspection_lot_id"],
        qms.StockPosted(
            txn_ids=ctx.results["move_stock"]["txn_ids"],
            posted_by="quality-process",
            quantity=ctx.results["move_stock"]["quantity"],
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"inspection_lot_id": ctx.data["inspection_lot_id"]}


USAGE_DECISION = FlowType(
    "usage_decision",
    "A usage decision (approved by a second person first, where the plant's rules say so) moves the "
    "lot's quality-inspection stock in ERP, opens a nonconformance and, for purchased material, a "
    "supplier case; holds or releases payment of the lot's supplier invoices, settles a return with "
    "the supplier, then tells QMS the stock is posted and MES the batch's quality status (a rework "
    "disposition opens a rework order).",
    (
        Step.awaiting(
            "approve_decision", DECISION_APPROVAL, when=lambda ctx: _approval_rule(ctx) is not None
        ),
        Step("read_stock", read_quality_stock),
        Step("move_stock", move_decided_stock),
        Step("open_nonconformance", open_decision_nonconformance, when=opens_nonconformance),
        Step("open_supplier_case", open_supplier_case, when=opens_supplier_case),
        Step(
            "hold_payment",
            hold_decided_payment,
            when=lambda ctx: purchased(ctx) and ctx.data["disposition"] in PAYMENT_HOLDS,
        ),
        Step(
            "release_payment",
            release_decided_payment,
            when=lambda ctx: purchased(ctx) and ctx.data["disposition"] in RELEASES,
        ),
        Step(
            "settle_return",
            settle_returns,
            when=lambda ctx: purchased(ctx) and ctx.data["disposition"] == qms.Disposition.RETURN,
        ),
        Step("confirm_stock_posted", confirm_stock_posted),
        *SHOP_FLOOR_STEPS,
    ),
    keys=("lot_id", "supplier_id"),
)


# --- 3. production completion → quality stock → inspection ------------------------------------
async def receive_finished_lot(ctx: Ctx) -> dict[str, Any]:
    """MES reports the batch under its own material and lot numbers: ERP's come from the registry."""
    d = ctx.data
    item_id = await erp_item(ctx.deps, d["item_id"])
    lot_id = await translate(ctx.deps, LOT, MES, d["lot_id"], xref.System.ERP)
    receipt = await ctx.deps.erp.receive_production(
        erp.ProductionReceiptCreate(
            production_order=d["order_id"],
            item_id=item_id,
            quantity=d["quantity"],
            location=d["location"],
            lot_id=lot_id,
            stock_status=QI,
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"receipt_id": receipt.receipt_id, "lot_id": receipt.lot_id, "item_id": item_id}


# An inspection not yet decided: stock received into its lot now is decided with it.
UNDECIDED = frozenset(
    {
        qms.InspectionLotStatus.CREATED,
        qms.InspectionLotStatus.IN_INSPECTION,
        qms.InspectionLotStatus.RESULTS_RECORDED,
    }
)


async def create_production_inspection(ctx: Ctx) -> dict[str, Any]:
    """One inspection per order's lot, as the batches arrive: a later batch of the order joins
    the lot's open inspection, whose usage decision moves all the lot's quality-inspection stock
    (this batch's included, received before it was decided). A batch that arrives once that
    inspection is decided gets an inspection of its own (source_ref: the batch), which the
    earlier decision leaves alone."""
    received = ctx.results["receive_into_quality_stock"]
    ctx.data.update(
        origin=qms.InspectionOrigin.PRODUCTION,
        source_ref=ctx.data["order_id"],
        lot_id=received["lot_id"],
        item_id=received.get("item_id", ctx.data["item_id"]),
    )
    try:
        return await create_receipt_inspection(ctx)
    except UpstreamProblem as exc:
        existing = exc.problem.get("inspection_lot_id")
        if exc.status != 409 or exc.slug != "inspection-lot-exists" or not existing:
            raise
    lot = await ctx.deps.qms.get_inspection_lot(str(existing))
    if lot.status in UNDECIDED:
        return {"inspection_lot_id": lot.inspection_lot_id, "joined": True}
    if not ctx.data.get("batch_id"):  # an event from before batches were named: cannot tell them apart
        raise StepFailed(
            f"inspection lot {lot.inspection_lot_id} of lot {ctx.data['lot_id']} is {lot.status}; "
            f"{ctx.data['quantity']:g} received for order {ctx.data['order_id']} after it was decided "
            "needs an inspection of its own: create it in QMS, then cancel this flow"
        )
    ctx.data["source_ref"] = ctx.data["batch_id"]  # QMS's one-per-source rule now guards the batch
    return await create_receipt_inspection(ctx, ":batch") | {"decided": lot.inspection_lot_id}


PRODUCTION_INSPECTION = FlowType(
    "production_inspection",
    "A completed batch is received into ERP quality-inspection stock and gets an inspection lot; "
    "its usage decision then runs through the usage_decision flow.",
    (
        Step("receive_into_quality_stock", receive_finished_lot),
        Step("create_inspection_lot", create_production_inspection),
    ),
    keys=("lot_id", "order_id"),
)


# --- 4. nonconformance disposition → stock ------------------------------------------------------
NC_MOVES: dict[str, tuple[erp.StockMovement, tuple[erp.StockStatus, ...]]] = {
    qms.NcDisposition.SCRAP: (erp.StockMovement.SCRAP, (BLK, QI, UNR)),
    qms.NcDisposition.RETURN: (erp.StockMovement.RETURN_TO_VENDOR, (BLK, QI, UNR)),
    qms.NcDisposition.USE_AS_IS: (erp.StockMovement.UNBLOCK, (BLK,)),
    qms.NcDisposition.REWORK: (erp.StockMovement.BLOCK, (QI, UNR)),
}


async def move_lot(
    ctx: Ctx,
    movement: erp.StockMovement,
    sources: tuple[erp.StockStatus, ...],
    reason: str,
    quantity: float | None = None,
    quality_ref: erp.QualityRef | None = None,
) -> tuple[list[str], erp.Lot]:
    """Move the lot's stock in `sources` (all of it, or up to `quantity`): the hold or release of
    a disposition, and of a reconciliation repair. `quality_ref` names the decision that allows
    stock out of a hold (docs/holds.md). One key per location and status."""
    lot = await ctx.deps.erp.get_lot(ctx.data["lot_id"])
    remaining = quantity or float("inf")
    txn_ids = []
    for status in sources:
        for balance in (b for b in lot.balances if b.status == status):
            moved = round(min(balance.quantity, remaining), 3)
            if moved <= 0:
                continue
            txn = await ctx.deps.erp.move_stock(
                erp.InventoryTransactionCreate(
                    type=movement,
                    lot_id=ctx.data["lot_id"],
                    quantity=moved,
                    location=balance.location,
                    from_status=status,
                    reason=reason,
                    quality_ref=quality_ref,
                ),
                idempotency_key=f"{ctx.idempotency_key}:{balance.location}:{status}",
            )
            txn_ids.append(txn.txn_id)
            remaining -= moved
    return txn_ids, lot


async def move_disposed_stock(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    movement, sources = NC_MOVES[d["disposition"]]
    reason = f"nonconformance {d['nc_id']}: {d['disposition']}"
    txn_ids, lot = await move_lot(ctx, movement, sources, reason, d.get("quantity"), _disposition(ctx))
    return {"txn_ids": txn_ids, "lot_origin": lot.origin}


def _disposition(ctx: Ctx) -> erp.QualityRef:
    d = ctx.data
    return quality_ref(erp.QualityRecord.NONCONFORMANCE, d["nc_id"], d["disposition"])


async def hold_disposed_payment(ctx: Ctx) -> dict[str, Any]:
    return await hold_payment(ctx, _disposition(ctx))


async def release_disposed_payment(ctx: Ctx) -> dict[str, Any]:
    return await release_payment(ctx, _disposition(ctx))


def _disposed(*dispositions: qms.NcDisposition) -> Any:
    return lambda ctx: ctx.data["disposition"] in dispositions and bool(ctx.results["move_stock"]["txn_ids"])


NC_DISPOSITION = FlowType(
    "nc_disposition",
    "A disposition set on a nonconformance (scrap, return, use as is, rework) moves the lot's stock in "
    "ERP; holds or releases payment of the lot's supplier invoices, settles a return, and tells MES "
    "the batch's quality status (a rework disposition opens a rework order).",
    (
        Step("move_stock", move_disposed_stock),
        Step(
            "hold_payment",
            hold_disposed_payment,
            when=_disposed(qms.NcDisposition.REWORK, qms.NcDisposition.SCRAP),
        ),
        Step("release_payment", release_disposed_payment, when=_disposed(qms.NcDisposition.USE_AS_IS)),
        Step("settle_return", settle_returns, when=_disposed(qms.NcDisposition.RETURN)),
        *SHOP_FLOOR_STEPS,
    ),
    keys=("lot_id", "nonconformance_id"),
)


# --- 5. procurement notice → purchasing flags the supplier's open orders and is told by email -----
OPEN_ORDERS = (erp.PurchaseOrderStatus.OPEN, erp.PurchaseOrderStatus.PARTIALLY_RECEIVED)


async def flag_purchase_orders(ctx: Ctx) -> dict[str, Any]:
    """Every open order of the supplier for the failed item gets a quality alert."""
    d = ctx.data
    orders = [
        po
        for po in await ctx.deps.erp.list_purchase_orders(supplier_id=d["supplier_id"], statuses=OPEN_ORDERS)
        if any(line.item_id == d["item_id"] for line in po.lines)
    ]
    flagged = []
    for po in sorted(orders, key=lambda po: po.po_id):
        await ctx.deps.erp.flag_purchase_order(
            po.po_id,
            erp.QualityAlertCreate(
                item_id=d["item_id"],
                lot_id=d["lot_id"],
                reason=f"{d['disposition']} after inspection {d['inspection_lot_id']}",
                supplier_case_id=d.get("supplier_case_id"),
                nc_id=d.get("nc_id"),
                source_po_id=d.get("po_id"),
            ),
            idempotency_key=f"{ctx.idempotency_key}:{po.po_id}",
        )
        flagged.append(po.po_id)
    return {"flagged": flagged}


PROCUREMENT_NOTICE = FlowType(
    "procurement_notice",
    "Purchasing learns of a blocked or returned lot: the supplier's open purchase orders for the "
    "item are flagged in ERP, and procurement is told by email, with the purchase order.",
    (Step("flag_purchase_orders", flag_purchase_orders), EMAIL_PROCUREMENT),
    keys=("lot_id", "supplier_id", "order_id"),
)
