"""The shop floor learns what quality decided, and its consumption reaches ERP stock.

- Batch quality status: every MES batch of a decided lot carries the decision (pending →
  released, quarantined, rework or scrapped), set by the usage-decision and NC-disposition flows
  and by reconciliation.
- Rework: a rework disposition opens one rework production order in MES for the lot.
- Consumption: material MES reports consumed becomes an ERP issue to the production order, so ERP
  stock is the truth after production. Stock ERP holds (BLOCKED, QUALITY_INSPECTION) is never
  issued: the flow stalls, saying held material was consumed on the floor.
"""

from __future__ import annotations

from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.holds import BATCH_STATUS
from contracts.kit.flows import FlowType, Step, StepFailed
from contracts.models import erp, mes, qms, xref
from process_apis.quality.deps import Ctx
from process_apis.quality.identities import ERP, ITEM, LOT, MES, erp_item, translate

UNR = erp.StockStatus.UNRESTRICTED
HELD = (erp.StockStatus.BLOCKED, erp.StockStatus.QUALITY_INSPECTION)


def quality_ref(ctx: Ctx) -> str:
    """The QMS record behind the flow: the inspection lot of a decision, or the nonconformance."""
    ref: str = ctx.data.get("inspection_lot_id") or ctx.data["nc_id"]
    return ref


# --- batches with an inspection of their own ---------------------------------------------------
SETTLED = (
    qms.InspectionLotStatus.STOCK_POSTED,
    qms.InspectionLotStatus.CLOSED,
    qms.InspectionLotStatus.CANCELLED,
)


def decides_production(ctx: Ctx) -> bool:
    """A usage decision on a lot made here (not a disposition or a reconciliation repair)."""
    return "inspection_lot_id" in ctx.data and ctx.data.get("origin") == qms.InspectionOrigin.PRODUCTION


async def batches_inspected_apart(
    ctx: Ctx, batches: list[mes.BatchCompletion], *, unsettled: bool
) -> list[mes.BatchCompletion]:
    """The lot's batches that another inspection than the decided one names as its source: a batch
    that arrived after the lot's inspection was decided (flows.create_production_inspection). Its
    stock and status are its own inspection's to decide; `unsettled`: only while that inspection's
    stock is still in quality inspection."""
    by_id = {b.batch_id: b for b in batches}
    others = await ctx.deps.qms.find_inspection_lots(lot_id=ctx.data["lot_id"])
    return [
        by_id[il.source_ref]
        for il in others
        if il.inspection_lot_id != ctx.data["inspection_lot_id"]
        and il.source_ref in by_id
        and il.status != qms.InspectionLotStatus.CANCELLED
        and not (unsettled and il.status in SETTLED)
    ]


# --- batch quality status ----------------------------------------------------------------------
def made_here(ctx: Ctx) -> bool:
    """Only lots made on the shop floor have MES batches (a plant without MES never calls it for
    purchased material): the decision's origin, or the ERP lot a disposition moved."""
    origin = ctx.data.get("origin") or ctx.results.get("move_stock", {}).get("lot_origin")
    return origin in (qms.InspectionOrigin.PRODUCTION, "production")


async def tell_mes(ctx: Ctx) -> dict[str, Any]:
    """Set every MES batch of the lot to what quality decided (a batch already there is left)."""
    disposition = ctx.data["disposition"]
    target = mes.BatchQualityStatus(BATCH_STATUS[disposition])
    mes_lot = await translate(ctx.deps, LOT, ERP, ctx.data["lot_id"], xref.System.MES)
    changed, kept = [], []
    batches = await ctx.deps.mes.list_batches(lot_id=mes_lot)
    if decides_production(ctx):
        own = next((b for b in batches if b.batch_id == ctx.data.get("source_ref")), None)
        apart = {b.batch_id for b in await batches_inspected_apart(ctx, batches, unsettled=False)}
        # A batch's own inspection speaks for that batch only; the lot's for the others.
        batches = [own] if own else [b for b in batches if b.batch_id not in apart]
    for batch in batches:
        if batch.quality_status is target:
            kept.append(batch.batch_id)
            continue
        try:
            await ctx.deps.mes.set_batch_quality(
                batch.batch_id,
                mes.BatchQualityChange(
                    status=target, reason=f"quality: {disposition}"[:200], quality_ref=quality_ref(ctx)
                ),
                idempotency_key=f"{ctx.idempotency_key}:{batch.batch_id}",
            )
        except UpstreamProblem as exc:
            if exc.status != 409:
                raise
            kept.append(batch.batch_id)  # scrapped already: nothing more to say to it
            continue
        changed.append(batch.batch_id)
    return {"mes_lot_id": mes_lot, "status": target.value, "changed": changed, "unchanged": kept}


# --- rework order --------------------------------------------------------------------------------
def reworks(ctx: Ctx) -> bool:
    """A rework disposition of a lot made here, or of purchased material when the plant named the
    site that reworks it (`shop_floor.default_site`)."""
    wanted = ctx.data["disposition"] == qms.Disposition.REWORK
    return wanted and (made_here(ctx) or bool(ctx.deps.rules.shop_floor.default_site))


async def open_rework_order(ctx: Ctx) -> dict[str, Any]:
    """One rework production order in MES for the lot, planned for the stock ERP holds of it."""
    d, rules = ctx.data, ctx.deps.rules.shop_floor
    ref = quality_ref(ctx)
    mes_lot = await translate(ctx.deps, LOT, ERP, d["lot_id"], xref.System.MES)
    for order in await ctx.deps.mes.find_orders(order_type=mes.OrderType.REWORK, source_lot_id=mes_lot):
        if order.quality_ref == ref:  # opened for this decision by an earlier run
            return {"order_id": order.order_id, "opened": False}
    lot = await ctx.deps.erp.get_lot(d["lot_id"])
    held = sum(b.quantity for b in lot.balances if b.status == erp.StockStatus.BLOCKED)
    quantity = round(float(d.get("quantity") or held or lot.quantity), 3)
    if quantity <= 0:
        return {"order_id": None, "opened": False, "note": f"ERP holds no stock of lot {d['lot_id']}"}
    batches = await ctx.deps.mes.list_batches(lot_id=mes_lot)
    site = batches[0].site if batches else rules.default_site
    if not site:
        raise StepFailed(
            f"MES has no batch of lot {mes_lot}, so no site is known for its rework order: "
            "set shop_floor.default_site in the quality rules, then retry this flow"
        )
    order = await ctx.deps.mes.create_order(
        mes.ProductionOrderCreate(
            item_id=await translate(ctx.deps, ITEM, ERP, lot.item_id, xref.System.MES),
            planned_quantity=quantity,
            site=site,
            uom=batches[0].uom if batches else "EA",
            lot_id=mes_lot,
            order_type=mes.OrderType.REWORK,
            source_lot_id=mes_lot,
            quality_ref=ref,
            operations=[
                mes.OperationCreate(
                    op_no=10,
                    work_centre=rules.rework_work_centre,
                    description=f"Rework lot {mes_lot} ({ref})"[:200],
                )
            ],
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"order_id": order.order_id, "opened": True, "quantity": quantity}


SHOP_FLOOR_STEPS = (
    Step("tell_mes", tell_mes, when=made_here),
    Step("open_rework_order", open_rework_order, when=reworks),
)


# --- consumption → ERP issues ------------------------------------------------------------------
async def resolve_consumed(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    item_id = await erp_item(ctx.deps, d["item_id"])
    lot_id = await translate(ctx.deps, LOT, MES, d["lot_id"], xref.System.ERP) if d.get("lot_id") else None
    item = await ctx.deps.erp.get_item(item_id)
    if item.base_uom.upper() != str(d["uom"]).upper():
        raise StepFailed(
            f"MES reported {d['quantity']:g} {d['uom']} of {d['item_id']}, ERP keeps {item_id} in "
            f"{item.base_uom}: no conversion is configured; post the issue in ERP by hand and "
            "cancel this flow"
        )
    return {"item_id": item_id, "lot_id": lot_id}


async def plan_consumption(ctx: Ctx) -> dict[str, Any]:
    """Which ERP lots and locations the consumption is issued from, decided once: a retry of
    the issue step posts exactly this plan under the same keys."""
    d, ids = ctx.data, ctx.results["resolve_consumed"]
    preferred = ctx.deps.rules.shop_floor.issue_locations.get(d.get("site") or "")
    if ids["lot_id"]:
        lots = [await ctx.deps.erp.get_lot(ids["lot_id"])]
    else:
        found = await ctx.deps.erp.list_lots(item_id=ids["item_id"], status=UNR)
        lots = sorted(found, key=lambda lot: (lot.created_at, lot.lot_id))  # oldest first
    issues, remaining, held = [], round(float(d["quantity"]), 3), 0.0
    for lot in lots:
        balances = sorted(
            (b for b in lot.balances if b.status == UNR and b.quantity > 0),
            key=lambda b: (b.location != preferred, b.location),
        )
        held += sum(b.quantity for b in lot.balances if b.status in HELD)
        for balance in balances:
            quantity = round(min(balance.quantity, remaining), 3)
            if quantity <= 0:
                break
            issues.append({"lot_id": lot.lot_id, "location": balance.location, "quantity": quantity})
            remaining = round(remaining - quantity, 3)
    if remaining > 0:
        what = f"lot {ids['lot_id']}" if ids["lot_id"] else f"item {ids['item_id']}"
        why = (
            f"; {held:g} of it is on quality hold in ERP: held material was consumed on the floor"
            if held
            else ""
        )
        raise StepFailed(
            f"MES consumed {d['quantity']:g} of {what} for order {d['order_id']}, ERP has "
            f"{round(float(d['quantity']) - remaining, 3):g} unrestricted{why}"
        )
    return {"issues": issues}


async def issue_consumed(ctx: Ctx) -> dict[str, Any]:
    d = ctx.data
    txn_ids = await ctx.deps.erp.issue_to_order(
        ctx.results["plan_consumption"]["issues"],
        order_ref=d["order_id"],
        reason=lambda _: f"consumed by production order {d['order_id']} (MES {d['consumption_id']})",
        idempotency_key=ctx.idempotency_key,
    )
    return {"txn_ids": txn_ids}


MATERIAL_CONSUMPTION = FlowType(
    "material_consumption",
    "Material MES reports consumed by a production order is issued from ERP stock to that order "
    "(ids translated through the registry), so ERP stock is the truth after production.",
    (
        Step("resolve_consumed", resolve_consumed),
        Step("plan_consumption", plan_consumption),
        Step("issue_consumed", issue_consumed),
    ),
    keys=("lot_id", "order_id", "item_id"),
)
