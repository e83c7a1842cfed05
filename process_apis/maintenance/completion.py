"""Flow 2: a technically complete work order → its spare parts issued in ERP against the order,
its cost (labor hours x rate + parts at standard price) posted, the CAPA given the cause and
correction codes, the asset back in service, the production order resumed, and the work order
closed once CMMS knows the costs are posted."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import FlowType, Step, StepFailed
from contracts.models import cmms, erp, mes, qms
from process_apis.maintenance.deps import Ctx, refused_state

DONE = (cmms.WorkOrderStatus.TECHNICALLY_COMPLETE, cmms.WorkOrderStatus.CLOSED)
CENT = Decimal("0.01")


def _wo(ctx: Ctx) -> dict[str, Any]:
    found: dict[str, Any] = ctx.results["read_work_order"]
    return found


def _order_key(ctx: Ctx, what: str) -> str:
    """The idempotency key of a posting made for the work order, not for this flow: a second
    completion flow for the same order (the first cancelled, or the event and an operator both
    starting one) replays the first flow's ERP or QMS answer instead of posting it again. The
    check of CMMS's costs-posted mark at the flow's start cannot see postings of a flow that
    stopped before marking them."""
    return f"wo:{_wo(ctx)['wo_id']}:{what}"


async def read_work_order(ctx: Ctx) -> dict[str, Any]:
    wo = await ctx.deps.cmms.get_work_order(ctx.data["wo_id"])
    if wo.status not in DONE:
        raise StepFailed(f"work order {wo.wo_id} is {wo.status}; it must be technically complete first")
    asset = await ctx.deps.cmms.get_asset(wo.asset_id)
    return {
        "wo_id": wo.wo_id,
        "status": wo.status.value,
        "asset_id": wo.asset_id,
        "request_id": wo.request_id,
        "cost_centre": wo.cost_centre or asset.cost_centre or ctx.deps.rules.completion.default_cost_centre,
        "parts": [
            {
                "line_no": p.line_no,
                "item_id": p.item_id,
                "quantity": p.quantity,
                "location": p.location or p.warehouse,
                "lot_id": p.lot_id,
            }
            for p in wo.parts
        ],
        "labor": [{"hours": u.hours, "amount": u.amount, "currency": u.currency} for u in wo.labor],
        "cause_code": wo.cause_code,
        "correction_code": wo.correction_code,
        "nc_id": wo.nonconformance_id,
        "production_order": wo.production_order,
        # Someone posted the costs another way: posting them again would count them twice.
        "costs_posted": wo.costs_posted,
    }


def _posts_costs(ctx: Ctx) -> bool:
    return not _wo(ctx)["costs_posted"]


async def plan_issues(ctx: Ctx) -> dict[str, Any]:
    """Which lots each part comes from (oldest first) and what the parts cost, decided once:
    a retry of the issue step then posts exactly this plan under the same keys."""
    issues: list[dict[str, Any]] = []
    taken: dict[tuple[str, str], float] = defaultdict(float)
    prices: dict[str, erp.Item] = {}
    material: dict[str, Decimal] = defaultdict(Decimal)
    unpriced: list[str] = []
    for part in _wo(ctx)["parts"]:
        item_id, location = part["item_id"], part["location"]
        if part["lot_id"]:
            lots = [await ctx.deps.erp.get_lot(part["lot_id"])]
        else:
            lots = await ctx.deps.erp.list_lots(item_id=item_id, status=erp.StockStatus.UNRESTRICTED)
        remaining = part["quantity"]
        for lot in sorted(lots, key=lambda lot: (lot.created_at, lot.lot_id)):
            free = (
                sum(
                    b.quantity
                    for b in lot.balances
                    if b.location == location and b.status == erp.StockStatus.UNRESTRICTED
                )
                - taken[(lot.lot_id, location)]
            )
            quantity = round(min(free, remaining), 3)
            if quantity <= 0:
                continue
            issues.append(
                {
                    "line_no": part["line_no"],
                    "item_id": item_id,
                    "lot_id": lot.lot_id,
                    "location": location,
                    "quantity": quantity,
                }
            )
            taken[(lot.lot_id, location)] += quantity
            remaining = round(remaining - quantity, 3)
            if remaining <= 0:
                break
        if remaining > 0:
            raise StepFailed(
                f"not enough unrestricted {item_id} at {location} for line {part['line_no']}: "
                f"{remaining:g} missing"
            )
        if item_id not in prices:
            prices[item_id] = await ctx.deps.erp.get_item(item_id)
        item = prices[item_id]
        if item.standard_price is None:
            unpriced.append(item_id)
        else:
            material[item.price_currency] += Decimal(str(part["quantity"])) * item.standard_price
    return {
        "issues": issues,
        "material": {currency: str(amount.quantize(CENT)) for currency, amount in material.items()},
        "unpriced": unpriced,
    }


async def issue_parts(ctx: Ctx) -> dict[str, Any]:
    wo = _wo(ctx)
    txn_ids = await ctx.deps.erp.issue_to_order(
        ctx.results["plan_issues"]["issues"],
        order_ref=wo["wo_id"],
        cost_centre=wo["cost_centre"],
        reason=lambda issue: f"spare part for work order {wo['wo_id']} (line {issue['line_no']})",
        idempotency_key=_order_key(ctx, "issue"),
    )
    return {"txn_ids": txn_ids}


async def post_costs(ctx: Ctx) -> dict[str, Any]:
    wo = _wo(ctx)
    labor: dict[str, Decimal] = defaultdict(Decimal)
    for line in wo["labor"]:
        labor[line["currency"]] += Decimal(line["amount"])
    hours = sum(line["hours"] for line in wo["labor"])
    material = {c: Decimal(a) for c, a in ctx.results.get("plan_issues", {}).get("material", {}).items()}
    postings: list[str] = []
    for kind, amounts, text in (
        (erp.CostKind.LABOR, labor, f"labor on work order {wo['wo_id']} ({hours:g} h)"),
        (erp.CostKind.MATERIAL, material, f"spare parts for work order {wo['wo_id']}"),
    ):
        for currency, amount in sorted(amounts.items()):
            if amount <= 0:
                continue
            posting = await ctx.deps.erp.post_cost(
                erp.CostPostingCreate(
                    amount=str(amount.quantize(CENT)),
                    currency=currency,
                    cost_centre=wo["cost_centre"],
                    kind=kind,
                    order_ref=wo["wo_id"],
                    description=text,
                ),
                idempotency_key=_order_key(ctx, f"{kind.value}:{currency}"),
            )
            postings.append(posting.posting_id)
    total = {
        c: str((labor.get(c, Decimal()) + material.get(c, Decimal())).quantize(CENT))
        for c in sorted({*labor, *material})
    }
    return {"posting_ids": postings, "total": total}


def _updates_capa(ctx: Ctx) -> bool:
    wo = _wo(ctx)
    return bool(wo["nc_id"] and (wo["cause_code"] or wo["correction_code"]))


async def update_capa(ctx: Ctx) -> dict[str, Any]:
    wo = _wo(ctx)
    causes, corrections = [c for c in [wo["cause_code"]] if c], [c for c in [wo["correction_code"]] if c]
    frozen = (qms.CapaStatus.CLOSED, qms.CapaStatus.CANCELLED)
    capas = [c for c in await ctx.deps.qms.list_capas(nc_id=wo["nc_id"]) if c.status not in frozen]
    if not capas:
        if not ctx.deps.rules.completion.create_capa_when_missing:
            return {"capa_ids": []}
        capa = await ctx.deps.qms.create_capa(
            qms.CapaCreate(
                kind=qms.CapaKind.CORRECTIVE,
                title=f"Remove the cause of {wo['nc_id']} on asset {wo['asset_id']}"[:200],
                owner=ctx.deps.rules.completion.capa_owner,
                description=f"Repaired by work order {wo['wo_id']}.",
                nc_ids=[wo["nc_id"]],
                cause_codes=causes,
                correction_codes=corrections,
            ),
            idempotency_key=_order_key(ctx, "capa"),
        )
        return {"capa_ids": [capa.capa_id], "created": True}
    for capa in capas:  # setting codes is idempotent, so a retry needs no key
        await ctx.deps.qms.update_capa(
            capa.capa_id,
            qms.CapaUpdate(
                cause_codes=list(dict.fromkeys([*capa.cause_codes, *causes])),
                correction_codes=list(dict.fromkeys([*capa.correction_codes, *corrections])),
            ),
        )
    return {"capa_ids": [c.capa_id for c in capas], "created": False}


async def restore_asset(ctx: Ctx) -> dict[str, Any]:
    wo = _wo(ctx)
    asset = await ctx.deps.cmms.get_asset(wo["asset_id"])
    if "restore" not in asset.allowed_actions:
        return {"asset_status": asset.status.value, "restored": False}
    restored = await ctx.deps.cmms.restore_asset(
        wo["asset_id"],
        cmms.AssetAction(note=f"work order {wo['wo_id']} complete", work_order_id=wo["wo_id"]),
        idempotency_key=ctx.idempotency_key,
    )
    return {"asset_status": restored.status.value, "restored": True}


async def resume_order(ctx: Ctx) -> dict[str, Any]:
    """Resume the order only if maintenance held it: a quality hold is not this flow's to lift."""
    wo = _wo(ctx)
    order = await ctx.deps.mes.get_order(wo["production_order"])
    ours = (wo["request_id"] and order.maintenance_request_id == wo["request_id"]) or (
        wo["nc_id"] and order.nonconformance_id == wo["nc_id"]
    )
    if order.status != mes.ProductionOrderStatus.HELD or not ours:
        return {"order_status": order.status.value, "resumed": False}
    try:
        resumed = await ctx.deps.mes.resume_order(order.order_id, idempotency_key=ctx.idempotency_key)
    except UpstreamProblem as exc:
        state = refused_state(exc)
        if state is None:
            raise
        return {"order_status": state, "resumed": False}
    return {"order_status": resumed.status.value, "resumed": True}


async def confirm_costs_posted(ctx: Ctx) -> dict[str, Any]:
    postings = ctx.results.get("post_costs", {}).get("posting_ids", [])
    try:
        await ctx.deps.cmms.mark_costs_posted(
            _wo(ctx)["wo_id"],
            cmms.CostsPosted(reference=ctx.flow_id, posting_ids=postings),
            idempotency_key=ctx.idempotency_key,
        )
    except UpstreamProblem as exc:
        if exc.slug != "costs-already-posted":
            raise
    return {"posting_ids": postings}


async def close_work_order(ctx: Ctx) -> dict[str, Any]:
    wo_id = _wo(ctx)["wo_id"]
    try:
        closed = await ctx.deps.cmms.close_work_order(wo_id, idempotency_key=ctx.idempotency_key)
    except UpstreamProblem as exc:
        if refused_state(exc) != cmms.WorkOrderStatus.CLOSED:
            raise
        return {"status": cmms.WorkOrderStatus.CLOSED.value}
    return {"status": closed.status.value}


WORK_ORDER_COMPLETION = FlowType(
    "work_order_completion",
    "A technically complete work order: spare parts issued in ERP against the order, labor and parts "
    "cost posted, the CAPA given the cause and correction codes, the asset restored, the production "
    "order resumed, then the work order marked costs-posted and closed.",
    (
        Step("read_work_order", read_work_order),
        Step("plan_issues", plan_issues, when=lambda ctx: _posts_costs(ctx) and bool(_wo(ctx)["parts"])),
        Step(
            "issue_parts",
            issue_parts,
            when=lambda ctx: bool(ctx.results.get("plan_issues", {}).get("issues")),
        ),
        Step("post_costs", post_costs, when=_posts_costs),
        Step("update_capa", update_capa, when=_updates_capa),
        Step("restore_asset", restore_asset),
        Step("resume_order", resume_order, when=lambda ctx: bool(_wo(ctx)["production_order"])),
        Step("confirm_costs_posted", confirm_costs_posted, when=_posts_costs),
        Step("close_work_order", close_work_order, when=lambda ctx: _wo(ctx)["status"] != "closed"),
    ),
    keys=("work_order_id", "asset_id", "order_id", "nonconformance_id"),
)
