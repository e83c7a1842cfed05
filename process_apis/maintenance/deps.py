"""What the maintenance flows work with: the system API clients, the plant rules, the own database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.clients.base import UpstreamProblem
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.outbound import Clients
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.db import Database
from contracts.kit.flows import FlowContext
from contracts.models import mes
from process_apis.maintenance.rules import MaintenanceRules

ACTOR = "maintenance-process"  # how this service signs what it raises in other systems


@dataclass(frozen=True)
class Upstreams(Clients):
    erp: ErpClient
    qms: QmsClient
    cmms: CmmsClient
    mes: MesClient
    xref: XrefClient
    rules: MaintenanceRules
    db: Database


Ctx = FlowContext[Upstreams]


def refused_state(exc: UpstreamProblem) -> str | None:
    """The current state named by a 409 illegal-transition answer, else None."""
    if exc.status == 409 and exc.slug == "illegal-transition":
        return str(exc.problem.get("current_state") or "") or None
    return None


async def production_context(
    client: MesClient, order_id: str | None, equipment_id: str | None
) -> dict[str, Any]:
    """The production order behind a machine problem (named, or the one running on the machine),
    with the lots it made and the lots it consumed."""
    order: mes.ProductionOrder | None = None
    if order_id:
        order = await client.get_order(order_id)
    elif equipment_id:
        for status in (mes.ProductionOrderStatus.RUNNING, mes.ProductionOrderStatus.HELD):
            found = await client.list_orders(equipment_id=equipment_id, status=status)
            if found:
                order = found[0]
                break
    if order is None:
        return {"order_id": None}
    batches = await client.order_batches(order.order_id)
    consumed = await client.order_consumptions(order.order_id)
    outputs = [order.lot_id] if order.lot_id else []
    outputs += [b.lot_id for b in batches if b.lot_id not in outputs]
    return {
        "order_id": order.order_id,
        "status": order.status.value,
        "item_id": order.item_id,
        "quantity": f"{order.good_quantity:g} of {order.planned_quantity:g} {order.uom}",
        "operations": [
            f"{o.op_no} {o.work_centre}" + (f" on {o.equipment_id}" if o.equipment_id else "")
            for o in order.operations
        ],
        "output_lots": outputs,
        "input_lots": [{"lot_id": c.lot_id, "item_id": c.item_id} for c in consumed if c.lot_id],
    }


def describe_production(context: dict[str, Any]) -> str:
    if not context.get("order_id"):
        return "No production order found for the machine."
    inputs = ", ".join(f"{i['lot_id']} ({i['item_id']})" for i in context["input_lots"]) or "none recorded"
    return (
        f"Production order {context['order_id']} ({context['status']}), item {context['item_id']}, "
        f"{context['quantity']}; operations: {'; '.join(context['operations'])}; "
        f"output lots: {', '.join(context['output_lots']) or 'none yet'}; input lots: {inputs}."
    )


def unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
