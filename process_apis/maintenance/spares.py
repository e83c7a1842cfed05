"""Flow 4: after spare parts are consumed, a spare under its reorder point gets ONE purchase
requisition in ERP. Every consumption checks; ERP keeps at most one open requisition per item,
so the second and later checks find it instead of raising another."""

from __future__ import annotations

from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import FlowType, Step
from contracts.models import erp
from process_apis.maintenance.deps import ACTOR, Ctx


async def _open_requisition(ctx: Ctx, item_id: str) -> str | None:
    found = await ctx.deps.erp.list_requisitions(item_id=item_id, status=erp.RequisitionStatus.OPEN)
    return found[0].requisition_id if found else None


async def check_stock(ctx: Ctx) -> dict[str, Any]:
    item_id = ctx.data["item_id"]
    item = await ctx.deps.erp.get_item(item_id)
    if item.item_type != erp.ItemType.SPARE_PART or item.reorder_point is None:
        return {"below": False, "note": "not a spare part with a reorder point"}
    stock = await ctx.deps.erp.get_item_stock(item_id)
    return {
        "below": stock.below_reorder_point,
        "on_hand": stock.unrestricted,
        "reorder_point": stock.reorder_point,
        "open_requisition": await _open_requisition(ctx, item_id) if stock.below_reorder_point else None,
    }


def _needs_requisition(ctx: Ctx) -> bool:
    checked = ctx.results["check_stock"]
    return bool(checked["below"]) and not checked.get("open_requisition")


async def raise_requisition(ctx: Ctx) -> dict[str, Any]:
    item_id, checked = ctx.data["item_id"], ctx.results["check_stock"]
    quantity = ctx.deps.rules.spares.quantity(item_id, checked["reorder_point"], checked["on_hand"])
    try:
        requisition = await ctx.deps.erp.raise_requisition(
            erp.PurchaseRequisitionCreate(
                item_id=item_id,
                quantity=quantity,
                reason=f"{checked['on_hand']:g} on hand, under reorder point {checked['reorder_point']:g}",
                requested_by=ACTOR,
                source_ref=ctx.data.get("source_ref"),
            ),
            idempotency_key=ctx.idempotency_key,
        )
    except UpstreamProblem as exc:
        if exc.status != 409:
            raise
        # Another consumption's check raised it a moment ago: that one is the requisition.
        return {"requisition_id": await _open_requisition(ctx, item_id), "raised": False}
    return {"requisition_id": requisition.requisition_id, "raised": True, "quantity": quantity}


SPARES_REPLENISHMENT = FlowType(
    "spares_replenishment",
    "After a spare part is consumed: if its unrestricted stock is under the reorder point and no "
    "requisition is open for it, raise one purchase requisition in ERP.",
    (
        Step("check_stock", check_stock),
        Step("raise_requisition", raise_requisition, when=_needs_requisition),
    ),
    keys=("item_id", "work_order_id"),
)
