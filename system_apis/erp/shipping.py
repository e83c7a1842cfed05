"""The embedded ERP's deliveries: lots out to a customer, one delivery movement per line; a lot
any of which is held ships nowhere (holds.refuse_held_lot)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.paging import Page, PageQuery
from contracts.kit.records import new_id
from contracts.kit.repository import announce, insert, list_page, reader, to_wire, unknown
from contracts.models import erp as m
from system_apis.erp import domain, holds, service, views
from system_apis.erp import store as s
from system_apis.erp.events import SOURCE


def view(row: s.DeliveryRow) -> m.Delivery:
    return to_wire(row, m.Delivery, delivery_id=row.id)


async def create(session: AsyncSession, data: m.DeliveryCreate) -> m.Delivery:
    delivery_id = new_id("DLV")
    lines: list[dict[str, Any]] = []
    # Every lot of the delivery is locked before any is moved, in one order: two deliveries naming
    # the same lots in other orders would otherwise each lock one and wait for the other.
    for lot_id in sorted({line.lot_id for line in data.lines}):
        await service.locked_lot(session, lot_id, unknown)
    for number, line in enumerate(data.lines, start=1):
        lot = await service.locked_lot(session, line.lot_id, unknown)
        holds.refuse_held_lot(views.lot(lot), line)
        movement = domain.plan_movement(
            service.balances_of(lot), m.MovementType.DELIVERY, location=line.location, quantity=line.quantity
        )
        txn = await service.post_planned(
            session,
            lot,
            movement,
            order_ref=data.order_ref or delivery_id,
            cost_centre=None,
            reason=f"delivery {delivery_id}",
        )
        lines.append(
            {
                "line_no": number,
                "lot_id": lot.id,
                "item_id": lot.item_id,
                "quantity": txn.quantity,
                "location": txn.location,
                "txn_id": txn.id,
            }
        )
    row = s.DeliveryRow(id=delivery_id, customer_id=data.customer_id, order_ref=data.order_ref, lines=lines)
    await insert(session, row)
    await announce(
        session,
        SOURCE,
        row,
        ev.DeliveryPosted,
        delivery_id=row.id,
        lot_ids=sorted({line["lot_id"] for line in lines}),
        txn_ids=[line["txn_id"] for line in lines],
    )
    return view(row)


get = reader(s.DeliveryRow, "delivery", view)


async def list_deliveries(
    session: AsyncSession, q: PageQuery, customer_id: str | None, order_ref: str | None
) -> Page[m.Delivery]:
    return await list_page(session, s.DeliveryRow, view, q, customer_id=customer_id, order_ref=order_ref)
