"""Flow 3: a machine breakdown (seen on the shop floor or in the CMMS) → one maintenance request
with the production context, and the production order running on the machine held. Both systems
report the same stop; the first flow to claim the asset's open breakdown raises the request and
holds the order, the other records that it was a duplicate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import FlowType, Step, StepFailed
from contracts.models import cmms, mes, xref
from process_apis.maintenance import store
from process_apis.maintenance.deps import ACTOR, Ctx, describe_production, production_context, refused_state

EQUIPMENT = xref.Kind.EQUIPMENT


def _at(ctx: Ctx) -> datetime:
    return datetime.fromisoformat(ctx.data["at"])


async def resolve_asset(ctx: Ctx) -> dict[str, Any]:
    """The CMMS asset and the shop floor's equipment id for the machine, as mapped at the stop."""
    at, x = _at(ctx), ctx.deps.xref
    if ctx.data.get("asset_id"):
        asset_id = ctx.data["asset_id"]
        try:
            equipment = await x.system_id(EQUIPMENT, xref.IdSpace.CMMS, asset_id, xref.System.MES, at=at)
        except UpstreamProblem as exc:
            if exc.status != 404:
                raise
            equipment = None  # an asset the shop floor does not know: no production context
    else:
        equipment = ctx.data["equipment_id"]
        asset_id = await x.system_id(EQUIPMENT, xref.IdSpace.MES, equipment, xref.System.CMMS, at=at)
        if asset_id is None:
            raise StepFailed(f"equipment {equipment} has no CMMS asset valid at {at.isoformat()}")
    asset = await ctx.deps.cmms.get_asset(asset_id)
    return {
        "asset_id": asset_id,
        "equipment_id": equipment,
        "site": asset.site,
        "criticality": asset.criticality.value,
    }


async def claim_breakdown(ctx: Ctx) -> dict[str, Any]:
    """Take the asset's open breakdown, in this service's own database (a unique key decides a race)."""
    async with ctx.deps.db.transaction() as session:
        owner = await store.claim_breakdown(
            session, ctx.results["resolve_asset"]["asset_id"], ctx.flow_id, _at(ctx)
        )
    return {"owner": owner == ctx.flow_id, "breakdown_flow_id": owner}


def _owner(ctx: Ctx) -> bool:
    return bool(ctx.results["claim_breakdown"]["owner"])


async def read_production(ctx: Ctx) -> dict[str, Any]:
    return await production_context(
        ctx.deps.mes, ctx.data.get("order_id"), ctx.results["resolve_asset"]["equipment_id"]
    )


async def request_maintenance(ctx: Ctx) -> dict[str, Any]:
    asset, production = ctx.results["resolve_asset"], ctx.results.get("read_production", {})
    where = f"{asset['asset_id']}" + (f" ({asset['equipment_id']})" if asset["equipment_id"] else "")
    details = f"Reported by {ctx.data['source']} at {ctx.data['at']}. {describe_production(production)}"
    request = await ctx.deps.cmms.submit_request(
        cmms.MaintenanceRequestCreate(
            asset_id=asset["asset_id"],
            description=f"Breakdown of {where}: {ctx.data['reason']}"[:200],
            type=cmms.MaintenanceType.CORRECTIVE,
            priority=ctx.deps.rules.breakdown.priorities.get(
                cmms.Criticality(asset["criticality"]), cmms.Priority.HIGH
            ),
            details=details[:4000],
            site=asset["site"],
            production_order=production.get("order_id"),
            requested_by=ACTOR,
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"request_id": request.request_id}


def _holds_order(ctx: Ctx) -> bool:
    production = ctx.results.get("read_production", {})
    return (
        _owner(ctx)
        and ctx.deps.rules.breakdown.hold_order
        and production.get("status") == mes.ProductionOrderStatus.RUNNING
    )


async def hold_order(ctx: Ctx) -> dict[str, Any]:
    order_id = ctx.results["read_production"]["order_id"]
    request_id = ctx.results["request_maintenance"]["request_id"]
    machine = ctx.results["resolve_asset"]["equipment_id"] or ctx.results["resolve_asset"]["asset_id"]
    reason = f"breakdown of {machine}: {ctx.data['reason']}; maintenance request {request_id}"
    try:
        order = await ctx.deps.mes.hold_order(
            order_id,
            mes.Hold(
                reason=reason[:200],
                maintenance_request_id=request_id,
            ),
            idempotency_key=ctx.idempotency_key,
        )
    except UpstreamProblem as exc:
        state = refused_state(exc)
        if state is None:
            raise
        return {"order_id": order_id, "held": False, "status": state}  # held or completed meanwhile
    return {"order_id": order.order_id, "held": True, "status": order.status.value}


async def report_asset_down(ctx: Ctx) -> dict[str, Any]:
    """Open the CMMS downtime for a stop first seen on the shop floor."""
    asset_id = ctx.results["resolve_asset"]["asset_id"]
    request_id = ctx.results["request_maintenance"]["request_id"]
    asset = await ctx.deps.cmms.get_asset(asset_id)
    if "down" not in asset.allowed_actions:
        return {"asset_status": asset.status.value, "reported": False}
    down = await ctx.deps.cmms.report_down(
        asset_id,
        cmms.AssetDown(
            reason=ctx.data["reason"][:200], failure_time=_at(ctx), maintenance_request_id=request_id
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"asset_status": down.status.value, "reported": True}


BREAKDOWN = FlowType(
    "breakdown",
    "A machine stopped (MES equipment down, or CMMS asset down): one corrective maintenance request with "
    "the production context per breakdown, however many systems report it, and the production order "
    "running on the machine held; the CMMS downtime is opened when only the shop floor saw it.",
    (
        Step("resolve_asset", resolve_asset),
        Step("claim_breakdown", claim_breakdown),
        Step(
            "read_production",
            read_production,
            when=lambda ctx: (
                _owner(ctx) and bool(ctx.data.get("order_id") or ctx.results["resolve_asset"]["equipment_id"])
            ),
        ),
        Step("request_maintenance", request_maintenance, when=_owner),
        Step("hold_order", hold_order, when=_holds_order),
        Step(
            "report_asset_down",
            report_asset_down,
            when=lambda ctx: _owner(ctx) and ctx.deps.rules.breakdown.report_asset_down,
        ),
    ),
    keys=("equipment_id", "asset_id", "order_id"),
)
