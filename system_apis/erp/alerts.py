"""Quality alerts on purchase orders: purchasing learns that a supplier's material of an item
failed, on every open order that may bring more of it. The alert rows are ours whichever system
of record holds the order; the backend shows each alert where purchasing works (Tryton: a note on
the purchase)."""

from __future__ import annotations

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.paging import Page
from contracts.kit.problems import IllegalTransition, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import announce, to_row, to_wire
from contracts.models import erp as m
from system_apis.erp import store as s
from system_apis.erp.events import SOURCE
from system_apis.erp.port import ErpBackend, Operation

OPEN = (m.PurchaseOrderStatus.OPEN, m.PurchaseOrderStatus.PARTIALLY_RECEIVED)


def _view(row: s.QualityAlertRow) -> m.QualityAlert:
    return to_wire(row, m.QualityAlert, alert_id=row.id, raised_at=row.created_at)


async def raise_alert(
    erp: ErpBackend, session: AsyncSession, po_id: str, data: m.QualityAlertCreate, op: Operation
) -> m.PurchaseOrder:
    """Flag the order (once per failed lot: a repeat answers the order as it stands)."""
    po = await erp.get_purchase_order(session, po_id)
    existing = await session.scalar(
        select(s.QualityAlertRow).where(
            s.QualityAlertRow.po_id == po.po_id, s.QualityAlertRow.lot_id == data.lot_id
        )
    )
    if existing is None:
        if data.item_id not in {line.item_id for line in po.lines}:
            raise Unprocessable(f"{po.po_id} orders no {data.item_id}", slug="item-not-on-order")
        if po.status not in OPEN:
            raise IllegalTransition("purchase order", po.status, "flag")
        row = to_row(s.QualityAlertRow, data, id=new_id("QA"), po_id=po.po_id, supplier_id=po.supplier_id)
        session.add(row)
        try:
            await session.flush()  # a racing second alert for the same lot fails here (409)
        except IntegrityError as exc:
            raise IllegalTransition("quality alert", "raised", "raise") from exc
        await erp.flag_purchase_order(session, po, _view(row), op)
        await announce(session, SOURCE, row, ev.PurchaseOrderQualityAlert, alert_id=row.id, subject=po.po_id)
    return (await attach(session, [po]))[0]


async def attach(session: AsyncSession, orders: list[m.PurchaseOrder]) -> list[m.PurchaseOrder]:
    """The orders with their alerts."""
    if not orders:
        return orders
    rows = await session.scalars(
        select(s.QualityAlertRow)
        .where(s.QualityAlertRow.po_id.in_([po.po_id for po in orders]))
        .order_by(s.QualityAlertRow.created_at, s.QualityAlertRow.id)
    )
    by_order: dict[str, list[m.QualityAlert]] = {}
    for row in rows:
        by_order.setdefault(row.po_id, []).append(_view(row))
    return [msgspec.structs.replace(po, quality_alerts=by_order.get(po.po_id, [])) for po in orders]


async def attach_page(session: AsyncSession, orders: Page[m.PurchaseOrder]) -> Page[m.PurchaseOrder]:
    return Page(items=await attach(session, list(orders.items)), next_cursor=orders.next_cursor)
