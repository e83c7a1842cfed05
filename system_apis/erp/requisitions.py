"""Purchase requisitions: a request to buy an item (raised e.g. when a spare falls under its
reorder point). An item has at most one open requisition, so repeated triggers raise one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, PageQuery
from contracts.kit.problems import Conflict
from contracts.kit.records import new_id
from contracts.kit.repository import (
    announce,
    exists_or_422,
    get_versioned,
    insert,
    list_page,
    reader,
    to_row,
    to_wire,
)
from contracts.kit.states import StateMachine
from contracts.models import erp as m
from system_apis.erp import store as s

SOURCE = "/plantbridge/erp"
R = m.RequisitionStatus
REQUISITION = StateMachine(
    "purchase requisition",
    m.RequisitionStatus,
    {"order": ([R.OPEN], R.ORDERED), "cancel": ([R.OPEN], R.CANCELLED)},
)


class RequisitionOpen(Conflict):
    slug, title = "requisition-open", "A requisition for this item is open"


def view(row: s.PurchaseRequisitionRow) -> m.PurchaseRequisition:
    actions = REQUISITION.actions(m.RequisitionStatus(row.status))
    return to_wire(row, m.PurchaseRequisition, requisition_id=row.id, allowed_actions=actions)


async def create(session: AsyncSession, data: m.PurchaseRequisitionCreate) -> m.PurchaseRequisition:
    await exists_or_422(session, s.ItemRow, data.item_id, "item")
    existing = await session.scalar(
        select(s.PurchaseRequisitionRow.id).where(s.PurchaseRequisitionRow.open_item == data.item_id)
    )
    if existing is not None:
        raise RequisitionOpen(
            f"requisition {existing} for item {data.item_id} is still open", requisition_id=existing
        )
    row = to_row(
        s.PurchaseRequisitionRow,
        data,
        id=new_id("PR"),
        quantity=kept_quantity(data.quantity),
        status=R.OPEN,
        open_item=data.item_id,
    )
    await insert(session, row)  # a racing second open requisition fails here on the unique index (409)
    await announce(session, SOURCE, row, ev.PurchaseRequisitionCreated, requisition_id=row.id)
    return view(row)


get = reader(s.PurchaseRequisitionRow, "purchase requisition", view)


async def list_requisitions(
    session: AsyncSession, q: PageQuery, item_id: str | None, status: m.RequisitionStatus | None
) -> Page[m.PurchaseRequisition]:
    return await list_page(session, s.PurchaseRequisitionRow, view, q, item_id=item_id, status=status)


async def move(
    session: AsyncSession,
    requisition_id: str,
    action: str,
    if_match: str | None,
    *,
    po_id: str | None = None,
    reason: str | None = None,
) -> m.PurchaseRequisition:
    row = await get_versioned(
        session, s.PurchaseRequisitionRow, requisition_id, "purchase requisition", if_match
    )
    row.status = REQUISITION.target(m.RequisitionStatus(row.status), action)
    row.open_item = None
    if po_id:
        await exists_or_422(session, s.PurchaseOrderRow, po_id, "purchase order")
        row.po_id = po_id
    if reason:
        row.reason = f"{row.reason or ''}\ncancelled: {reason}".strip()
    await session.flush()
    return view(row)
