"""People are told: procurement by email when purchased material is blocked or returned (with the
purchase order), plant quality leadership when nonconformances cross a defect threshold.

Recipients are configuration, per plant and role (`[notifications.recipients.<plant>]` in the
quality rules); the plant is the MES site of the production order behind a record, else the
plant this deployment serves (`notifications.plant`). No recipients, or no SMTP server
configured, is recorded on the step ("sent: false" with why), never an error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import FlowType, Step
from contracts.models import qms
from process_apis.quality import store
from process_apis.quality.deps import Ctx
from process_apis.quality.mail import Mail
from process_apis.quality.rules import DefectThreshold

PROCUREMENT, QUALITY_LEADERSHIP = "procurement", "quality_leadership"


async def plant_of(ctx: Ctx, production_order_id: str | None) -> str:
    if production_order_id:
        return (await ctx.deps.mes.get_order(production_order_id)).site
    return ctx.deps.rules.notifications.plant


async def send(ctx: Ctx, plant: str, role: str, subject: str, lines: list[str]) -> dict[str, Any]:
    to = ctx.deps.rules.notifications.recipients_of(plant, role)
    if not to:
        return {"sent": False, "note": f"no {role} recipients configured for plant {plant}"}
    if not ctx.deps.mailer.enabled:
        return {"sent": False, "note": "email is off (no SMTP server configured)"}
    message_id = await ctx.deps.mailer.send(
        Mail(to=to, subject=subject, body="\n".join(lines) + "\n", message_id=f"{ctx.flow_id}.{ctx.step}")
    )
    return {"sent": True, "to": ", ".join(to), "message_id": message_id}


# --- procurement notice --------------------------------------------------------------------------
def _field(label: str, value: object) -> str:
    return f"{label + ':':<18}{value if value not in (None, '') else '-'}"


async def purchase_order(ctx: Ctx) -> str | None:
    """The notice's purchase order; a notice that does not carry one (published before notices
    did) gets it from the goods receipt its inspection lot came from."""
    if ctx.data.get("po_id"):
        return str(ctx.data["po_id"])
    inspection = await ctx.deps.qms.get_inspection_lot(ctx.data["inspection_lot_id"])
    if inspection.origin != qms.InspectionOrigin.GOODS_RECEIPT or not inspection.source_ref:
        return None
    try:
        return (await ctx.deps.erp.get_goods_receipt(inspection.source_ref)).po_id
    except UpstreamProblem as exc:
        if exc.status == 404:
            return None
        raise


async def email_procurement(ctx: Ctx) -> dict[str, Any]:
    n = ctx.data | {"po_id": await purchase_order(ctx)}
    quantity = f"{n['quantity']:g}" if n.get("quantity") is not None else None
    flagged = ctx.results.get("flag_purchase_orders", {}).get("flagged") or []
    lines = [
        f"Quality {n['disposition']} purchased material from supplier {n['supplier_id']}.",
        "",
        _field("Purchase order", n.get("po_id")),
        _field("Supplier", n["supplier_id"]),
        _field("Item", n["item_id"]),
        _field("Lot", n["lot_id"]),
        _field("Quantity", quantity),
        _field("Disposition", n["disposition"]),
        _field("Inspection lot", n["inspection_lot_id"]),
        _field("Nonconformance", n.get("nc_id")),
        _field("Supplier case", n.get("supplier_case_id")),
    ]
    if flagged:
        lines.append(_field("Open POs flagged", ", ".join(flagged)))
    lines += ["", "Please take it up with the supplier; the supplier case holds the details."]
    po = f" (PO {n['po_id']})" if n.get("po_id") else ""
    subject = f"[Quality] {n['disposition']}: lot {n['lot_id']} of {n['item_id']} from {n['supplier_id']}{po}"
    return await send(ctx, ctx.deps.rules.notifications.plant, PROCUREMENT, subject[:200], lines)


# A step of the procurement notice flow (process_apis/quality/flows.py), after ERP's POs are flagged.
EMAIL_PROCUREMENT = Step("email_procurement", email_procurement)


# --- defect threshold → quality leadership -------------------------------------------------------
def _key(threshold: DefectThreshold, value: str) -> str:
    return f"{threshold.per}:{value}:{threshold.count}/{threshold.window_hours:g}h"


async def count_defects(ctx: Ctx) -> dict[str, Any]:
    """Each configured threshold this nonconformance's item (supplier, machine) has now reached."""
    links, now = ctx.data["links"], datetime.now(UTC)
    crossed = []
    for threshold in ctx.deps.rules.notifications.defect_thresholds:
        value = links.get(f"{threshold.per}_id")
        if not value:
            continue
        since = now - timedelta(hours=threshold.window_hours)
        found = await ctx.deps.qms.find_nonconformances(
            **{f"{threshold.per}_id": value, "updated_since": since.isoformat()}
        )
        ncs = sorted(
            (nc for nc in found if nc.created_at >= since and nc.status != qms.NcStatus.CANCELLED),
            key=lambda nc: nc.created_at,
        )
        if len(ncs) >= threshold.count:
            crossed.append(
                {
                    "key": _key(threshold, value),
                    "per": threshold.per,
                    "value": value,
                    "count": len(ncs),
                    "threshold": threshold.count,
                    "window_hours": threshold.window_hours,
                    "nc_ids": [nc.nc_id for nc in ncs],
                    "titles": [f"{nc.nc_id} {nc.title} ({nc.severity})" for nc in ncs],
                }
            )
    return {"crossed": crossed}


async def claim_alerts(ctx: Ctx) -> dict[str, Any]:
    """Leadership hears of a threshold once per window: the first flow to claim it tells them."""
    claimed, now = [], datetime.now(UTC)
    async with ctx.deps.db.transaction() as session:
        for alert in ctx.results["count_defects"]["crossed"]:
            until = now + timedelta(hours=alert["window_hours"])
            if await store.claim_alert(session, alert["key"], ctx.flow_id, now, until):
                claimed.append(alert)
    return {"alerts": claimed}


async def email_leadership(ctx: Ctx) -> dict[str, Any]:
    alerts = ctx.results["claim_alerts"]["alerts"]
    plant = await plant_of(ctx, ctx.data["links"].get("production_order_id"))
    lines = []
    for alert in alerts:
        lines += [
            f"{alert['count']} nonconformances on {alert['per']} {alert['value']} within "
            f"{alert['window_hours']:g} h (threshold {alert['threshold']}):",
            *(f"  - {title}" for title in alert["titles"]),
            "",
        ]
    first = alerts[0]
    subject = f"[Quality] defect threshold exceeded: {first['per']} {first['value']} ({first['count']} NCs)"
    return await send(ctx, plant, QUALITY_LEADERSHIP, subject[:200], lines)


DEFECT_THRESHOLD = FlowType(
    "defect_threshold",
    "A nonconformance that brings its item (supplier, machine) to a configured defect threshold "
    "within the window tells plant quality leadership by email, once per window.",
    (
        Step("count_defects", count_defects),
        Step("claim_alerts", claim_alerts, when=lambda ctx: bool(ctx.results["count_defects"]["crossed"])),
        Step(
            "email_leadership",
            email_leadership,
            when=lambda ctx: bool(ctx.results.get("claim_alerts", {}).get("alerts")),
        ),
    ),
    keys=("nonconformance_id", "item_id", "lot_id"),
)
