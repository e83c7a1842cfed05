"""Flow 1: nonconformances on a machine → a corrective maintenance request with the production
context, the production order held, the affected lots blocked, and (over the plant's rule) a
supplier case for the raw material the order consumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import FlowType, Step, StepFailed
from contracts.models import cmms, erp, mes, qms, xref
from process_apis.maintenance.deps import (
    ACTOR,
    Ctx,
    describe_production,
    production_context,
    refused_state,
    unique,
)
from process_apis.maintenance.rules import worst

HOLDABLE = (erp.StockStatus.UNRESTRICTED, erp.StockStatus.QUALITY_INSPECTION)


def _nc(ctx: Ctx) -> dict[str, Any]:
    found: dict[str, Any] = ctx.results["read_nonconformances"]
    return found


async def read_nonconformances(ctx: Ctx) -> dict[str, Any]:
    ncs = [await ctx.deps.qms.get_nonconformance(nc_id) for nc_id in ctx.data["nc_ids"]]
    equipment = ctx.data.get("equipment_id") or next((n.equipment_id for n in ncs if n.equipment_id), None)
    if equipment is None:
        raise StepFailed(f"none of the nonconformances {', '.join(ctx.data['nc_ids'])} names equipment")
    return {
        "nc_ids": [n.nc_id for n in ncs],
        "equipment_id": equipment,
        "severity": worst([n.severity for n in ncs]).value,
        "count": len(ncs),
        "occurred_at": min(n.created_at for n in ncs).isoformat(),
        "production_order": next((n.production_order_id for n in ncs if n.production_order_id), None),
        "lots": unique([n.lot_id for n in ncs]),
        "title": ncs[0].title,
        "summary": "; ".join(
            f"{n.nc_id} {n.title} ({n.severity}{', ' + ', '.join(n.defect_codes) if n.defect_codes else ''})"
            for n in ncs
        ),
    }


async def resolve_equipment(ctx: Ctx) -> dict[str, Any]:
    """The CMMS asset that was in the machine's position when the first NC was found."""
    nc = _nc(ctx)
    at = datetime.fromisoformat(nc["occurred_at"])
    space = ctx.deps.rules.nonconformance.equipment_id_space
    found = await ctx.deps.xref.resolve(xref.Kind.EQUIPMENT, space, nc["equipment_id"], at=at)
    ids = {ref.system: ref.system_id for ref in found.ids}
    asset_id = ids.get(xref.System.CMMS)
    if asset_id is None:
        raise StepFailed(f"equipment {nc['equipment_id']} has no CMMS asset valid at {at.isoformat()}")
    asset = await ctx.deps.cmms.get_asset(asset_id)
    mes_id = nc["equipment_id"] if space == xref.IdSpace.MES else ids.get(xref.System.MES)
    return {
        "canonical_id": found.canonical_id,
        "asset_id": asset_id,
        "site": asset.site,
        "mes_equipment_id": mes_id,
    }


async def read_production(ctx: Ctx) -> dict[str, Any]:
    equipment = ctx.results["resolve_equipment"]["mes_equipment_id"]
    return await production_context(ctx.deps.mes, _nc(ctx)["production_order"], equipment)


async def request_maintenance(ctx: Ctx) -> dict[str, Any]:
    nc, asset, production = _nc(ctx), ctx.results["resolve_equipment"], ctx.results["read_production"]
    rules = ctx.deps.rules.nonconformance
    reason = "repeated nonconformances" if nc["count"] > 1 else "a nonconformance"
    request = await ctx.deps.cmms.submit_request(
        cmms.MaintenanceRequestCreate(
            asset_id=asset["asset_id"],
            description=f"Quality: {reason} on {nc['equipment_id']}: {nc['title']}"[:200],
            type=cmms.MaintenanceType.CORRECTIVE,
            priority=rules.priority(qms.Severity(nc["severity"]), nc["count"]),
            details=(f"Nonconformances: {nc['summary']}. {describe_production(production)}")[:4000],
            site=asset["site"],
            nonconformance_id=nc["nc_ids"][0],
            production_order=production.get("order_id"),
            requested_by=ACTOR,
        ),
        idempotency_key=ctx.idempotency_key,
    )
    return {"request_id": request.request_id, "priority": request.priority.value}


def _holds_order(ctx: Ctx) -> bool:
    production = ctx.results["read_production"]
    return (
        ctx.deps.rules.nonconformance.hold_order
        and production.get("status") == mes.ProductionOrderStatus.RUNNING
    )


async def hold_order(ctx: Ctx) -> dict[str, Any]:
    nc, order_id = _nc(ctx), ctx.results["read_production"]["order_id"]
    request_id = ctx.results["request_maintenance"]["request_id"]
    try:
        order = await ctx.deps.mes.hold_order(
            order_id,
            mes.Hold(
                reason=f"maintenance request {request_id}: {nc['count']} NC(s) on {nc['equipment_id']}",
                maintenance_request_id=request_id,
                nonconformance_id=nc["nc_ids"][0],
            ),
            idempotency_key=ctx.idempotency_key,
        )
    except UpstreamProblem as exc:
        state = refused_state(exc)
        if state is None:
            raise
        return {"order_id": order_id, "held": False, "status": state}  # someone held or completed it first
    return {"order_id": order.order_id, "held": True, "status": order.status.value}


def _affected_lots(ctx: Ctx) -> list[str]:
    return unique([*_nc(ctx)["lots"], *ctx.results["read_production"].get("output_lots", [])])


async def plan_lot_holds(ctx: Ctx) -> dict[str, Any]:
    """Decide what to block before blocking it, so a retry posts exactly this plan."""
    holds: list[dict[str, Any]] = []
    not_in_erp: list[str] = []
    for lot_id in _affected_lots(ctx):
        try:
            lot = await ctx.deps.erp.get_lot(lot_id)
        except UpstreamProblem as exc:
            if exc.status != 404:
                raise
            not_in_erp.append(lot_id)  # made on the floor but not yet received into stock
            continue
        holds += [
            {"lot_id": lot_id, "location": b.location, "from_status": b.status.value, "quantity": b.quantity}
            for b in lot.balances
            if b.status in HOLDABLE and b.quantity > 0
        ]
    return {"holds": holds, "not_in_erp": not_in_erp}


async def block_lots(ctx: Ctx) -> dict[str, Any]:
    request_id = ctx.results["request_maintenance"]["request_id"]
    txn_ids = []
    for number, hold in enumerate(ctx.results["plan_lot_holds"]["holds"]):
        txn = await ctx.deps.erp.move_stock(
            erp.InventoryTransactionCreate(
                type=erp.StockMovement.BLOCK,
                lot_id=hold["lot_id"],
                quantity=hold["quantity"],
                location=hold["location"],
                from_status=erp.StockStatus(hold["from_status"]),
                reason=f"machine {_nc(ctx)['equipment_id']} suspect; maintenance request {request_id}",
            ),
            idempotency_key=f"{ctx.idempotency_key}:{number}",
        )
        txn_ids.append(txn.txn_id)
    return {"txn_ids": txn_ids}


def _opens_supplier_case(ctx: Ctx) -> bool:
    nc = _nc(ctx)
    rules = ctx.deps.rules.nonconformance
    return bool(ctx.results["read_production"].get("input_lots")) and rules.opens_supplier_case(
        qms.Severity(nc["severity"]), nc["count"]
    )


async def open_supplier_cases(ctx: Ctx) -> dict[str, Any]:
    """One case per supplier of the raw-material lots the order consumed."""
    nc = _nc(ctx)
    by_supplier: dict[str, list[str]] = {}
    for consumed in ctx.results["read_production"]["input_lots"]:
        try:
            lot = await ctx.deps.erp.get_lot(consumed["lot_id"])
        except UpstreamProblem as exc:
            if exc.status == 404:
                continue
            raise
        if lot.supplier_id:
            by_supplier.setdefault(lot.supplier_id, []).append(lot.lot_id)
    due = datetime.now(UTC).date() + timedelta(days=ctx.deps.rules.nonconformance.supplier_case_due_days)
    cases = []
    for supplier_id in sorted(by_supplier):
        case = await ctx.deps.qms.open_supplier_case(
            qms.SupplierCaseCreate(
                supplier_id=supplier_id,
                title=f"Raw material suspected: {nc['count']} nonconformance(s) on {nc['equipment_id']}"[
                    :200
                ],
                description=f"{nc['summary']}. Lots consumed: {', '.join(by_supplier[supplier_id])}."[:4000],
                nc_ids=nc["nc_ids"],
                lot_ids=by_supplier[supplier_id],
                due_date=due,
                opened_by=ACTOR,
            ),
            idempotency_key=f"{ctx.idempotency_key}:{supplier_id}",
        )
        if ctx.deps.rules.nonconformance.issue_supplier_cases:
            await ctx.deps.qms.issue_supplier_case(
                case.case_id,
                qms.TransitionNote(by=ACTOR, note="issued by the plant's rule"),
                idempotency_key=f"{ctx.idempotency_key}:{supplier_id}:issue",
            )
        cases.append(case.case_id)
    return {"supplier_case_ids": cases}


NC_MAINTENANCE = FlowType(
    "nc_maintenance",
    "Nonconformances on a machine (one severe enough, or several within the plant's window) become a "
    "corrective maintenance request with the production context; the production order is held, the "
    "affected lots blocked in ERP and, over the plant's rule, a supplier case opened for the raw material.",
    (
        Step("read_nonconformances", read_nonconformances),
        Step("resolve_equipment", resolve_equipment),
        Step("read_production", read_production),
        Step("request_maintenance", request_maintenance),
        Step("hold_order", hold_order, when=_holds_order),
        Step("plan_lot_holds", plan_lot_holds, when=lambda ctx: ctx.deps.rules.nonconformance.block_lots),
        Step(
            "block_lots",
            block_lots,
            when=lambda ctx: bool(ctx.results.get("plan_lot_holds", {}).get("holds")),
        ),
        Step("open_supplier_cases", open_supplier_cases, when=_opens_supplier_case),
    ),
    keys=("equipment_id", "nonconformance_id", "order_id", "lot_id"),
)
