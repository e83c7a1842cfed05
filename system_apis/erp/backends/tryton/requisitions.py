"""Purchase requisitions ↔ Tryton's purchase requisitions (module purchase_requisition).

| ours | Tryton |
|---|---|
| requisition (`requisition_id`) | `purchase.requisition` (number = requisition id), one line for the item |
| open | draft, or waiting for approval |
| ordered | approved onward: a purchase request for purchasing (`po_id`: its purchase, once made) |
| cancelled | rejected or cancelled |

Raising one submits a requisition for approval (`wait`); ordering it approves it (`approve`: Tryton
creates the purchase request); cancelling cancels a draft one and rejects one that waits. What
Tryton has no field for (who asked, what raised it, a purchase order named when ordering) is kept
in a binding of ours. Exactly once: the line's description ends with the command's key, and a
command first looks for it. An item has one open requisition at a time, as with the embedded ERP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit import outbox
from contracts.kit.paging import Page, PageQuery, check_if_match
from contracts.kit.problems import NotFound, Unprocessable
from contracts.models import erp as m
from system_apis.erp import events
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.connection import (
    ErpAccessDenied,
    Record,
    serialise,
)
from system_apis.erp.backends.tryton.records import Records
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import Operation
from system_apis.erp.requisitions import REQUISITION, RequisitionOpen

MODEL = "purchase.requisition"
FIELDS = ["number", "state", "description", "employee.rec_name", "lines", "create_date", "write_date"]
LINE_FIELDS = ["requisition", "product.code", "quantity", "description", "purchase_requests"]
STATUS = {
    "draft": m.RequisitionStatus.OPEN,
    "waiting": m.RequisitionStatus.OPEN,
    "approved": m.RequisitionStatus.ORDERED,
    "processing": m.RequisitionStatus.ORDERED,
    "done": m.RequisitionStatus.ORDERED,
    "rejected": m.RequisitionStatus.CANCELLED,
    "cancelled": m.RequisitionStatus.CANCELLED,
}
OPEN_STATES = [s for s, status in STATUS.items() if status is m.RequisitionStatus.OPEN]


class Extras(msgspec.Struct, omit_defaults=True):
    """Ours, beside a Tryton requisition: what Tryton has no field for."""

    reason: str | None = None
    requested_by: str | None = None
    source_ref: str | None = None
    po_id: str | None = None


class Requisitions(Records):
    async def create_requisition(
        self, session: AsyncSession, data: m.PurchaseRequisitionCreate, op: Operation
    ) -> m.PurchaseRequisition:
        await self.require(MODEL, "purchase requisitions", "requisitions-not-supported")
        places = await self.places()
        key = mapping.tryton_key(op)
        found = await self.find(
            "purchase.requisition.line", [("description", "like", f"%\n{key}")], ["requisition"]
        )
        if found:
            requisition = int(found[0]["requisition"])
        else:
            product, unit = await self.product(data.item_id)
            await serialise(session, f"requisition:{data.item_id}")
            await self._refuse_a_second_open(product, data.item_id)
            employee = self.client.context.get("employee")
            if not employee:
                raise ErpAccessDenied(
                    "Tryton's purchase requisitions need an employee: give the connector's Tryton user one"
                )
            note = "\n".join(part for part in (data.reason, key) if part)
            [requisition] = await self.call(
                MODEL,
                "create",
                [
                    {
                        "employee": employee,
                        "description": (data.reason or f"for {data.source_ref or data.item_id}")[:100],
                        "supply_date": dt.date.today(),
                        "warehouse": places.home(),
                        "lines": [
                            (
                                "create",
                                [
                                    {
                                        "product": product,
                                        "unit": unit,
                                        "quantity": await self.in_unit(data.item_id, data.quantity),
                                        "description": note,
                                    }
                                ],
                            )
                        ],
                    }
                ],
            )
        [record] = await self.find(MODEL, [("id", "=", requisition)], FIELDS)
        if record["state"] == "draft":
            await self.call(MODEL, "wait", [requisition])  # submitted for approval
        extras = Extras(reason=data.reason, requested_by=data.requested_by, source_ref=data.source_ref)
        row = await self._binding(session, requisition)
        if row is None:
            row = BindingRow(
                id=f"REQ-{requisition}",
                kind="requisition",
                model=MODEL,
                tryton_id=requisition,
                lot_id="",
                type="requisition",
                operation=op,
                view=msgspec.json.encode(extras),
            )
            session.add(row)
            view = (await self._views([await self._record(requisition)], session))[0]
            await outbox.publish(
                session,
                events.SOURCE,
                view.requisition_id,
                ev.PurchaseRequisitionCreated(
                    requisition_id=view.requisition_id,
                    item_id=view.item_id,
                    quantity=view.quantity,
                    source_ref=view.source_ref,
                ),
            )
            return view
        return (await self._views([await self._record(requisition)], session))[0]

    async def _refuse_a_second_open(self, product: int, item_id: str) -> None:
        lines = await self.find(
            "purchase.requisition.line",
            [("product", "=", product), ("requisition.state", "in", OPEN_STATES)],
            ["requisition.number"],
            limit=1,
        )
        if lines:
            number = lines[0]["requisition."]["number"]
            raise RequisitionOpen(
                f"requisition {number} for item {item_id} is still open", requisition_id=number
            )

    async def get_requisition(self, session: AsyncSession, requisition_id: str) -> m.PurchaseRequisition:
        await self.require(MODEL, "purchase requisitions", "requisitions-not-supported")
        found = await self.find(MODEL, [("number", "=", requisition_id)], FIELDS, limit=1)
        views = await self._views(found, session)
        if not views:
            raise NotFound(
                f"purchase requisition {requisition_id} does not exist", slug="purchase-requisition-not-found"
            )
        return views[0]

    async def list_requisitions(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        status: m.RequisitionStatus | None,
    ) -> Page[m.PurchaseRequisition]:
        await self.require(MODEL, "purchase requisitions", "requisitions-not-supported")
        where: list[Any] = [("number", "!=", None)]
        if item_id:
            where.append(("lines.product.code", "=", item_id))
        if status is not None:
            where.append(("state", "in", [s for s, mapped in STATUS.items() if mapped is status]))

        async def views(rows: list[Record]) -> dict[str, m.PurchaseRequisition]:
            return {v.requisition_id: v for v in await self._views(rows, session)}

        return await self.listed(MODEL, where, FIELDS, q, views, key="number")

    async def move_requisition(
        self,
        session: AsyncSession,
        requisition_id: str,
        action: str,
        if_match: str | None,
        *,
        po_id: str | None = None,
        reason: str | None = None,
    ) -> m.PurchaseRequisition:
        current = await self.get_requisition(session, requisition_id)
        check_if_match(if_match, current.version)
        REQUISITION.target(current.status, action)  # 409 naming the current state
        [record] = await self.find(MODEL, [("number", "=", requisition_id)], ["state"], limit=1)
        if po_id and not await self.call("purchase.purchase", "search", [("number", "=", po_id)], 0, 1, None):
            raise Unprocessable(f"purchase order {po_id} does not exist", slug="unknown-purchase-order")
        if action == "order":
            if record["state"] == "draft":
                await self.call(MODEL, "wait", [record["id"]])
            await self.call(MODEL, "approve", [record["id"]])  # Tryton makes the purchase request
        else:
            await self.call(MODEL, "reject" if record["state"] == "waiting" else "cancel", [record["id"]])
        row = await self._binding(session, int(record["id"]))
        if row is not None or po_id or reason:
            extras = msgspec.json.decode(row.view, type=Extras) if row is not None else Extras()
            if po_id:
                extras.po_id = po_id
            if reason:
                extras.reason = f"{extras.reason or ''}\ncancelled: {reason}".strip()
            if row is None:
                row = BindingRow(
                    id=f"REQ-{record['id']}",
                    kind="requisition",
                    model=MODEL,
                    tryton_id=int(record["id"]),
                    lot_id="",
                    type="requisition",
                    view=b"{}",
                )
                session.add(row)
            row.view = msgspec.json.encode(extras)
        return await self.get_requisition(session, requisition_id)

    async def _record(self, requisition: int) -> Record:
        [record] = await self.find(MODEL, [("id", "=", requisition)], FIELDS)
        return record

    async def _binding(self, session: AsyncSession, requisition: int) -> BindingRow | None:
        return await self.bound_record(session, "requisition", MODEL, requisition)

    async def _views(self, records: list[Record], session: AsyncSession) -> list[m.PurchaseRequisition]:
        if not records:
            return []
        lines = await self.find(
            "purchase.requisition.line",
            [("requisition", "in", [r["id"] for r in records])],
            LINE_FIELDS,
            order=[("requisition", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        requests = await self.find(
            "purchase.request",
            [("id", "in", [request for line in lines for request in line["purchase_requests"]])],
            ["origin", "purchase.number"],
        )
        bindings = {
            row.tryton_id: msgspec.json.decode(row.view, type=Extras)
            for row in await session.scalars(
                select(BindingRow).where(
                    BindingRow.kind == "requisition", BindingRow.tryton_id.in_([r["id"] for r in records])
                )
            )
        }
        views = []
        for record in records:
            line = next((li for li in lines if li["requisition"] == record["id"]), None)
            if line is None:
                continue  # a requisition someone is still writing in Tryton: nothing to request yet
            extras = bindings.get(record["id"], Extras())
            ordered = [
                (r.get("purchase.") or {}).get("number")
                for r in requests
                if r["origin"] == f"purchase.requisition.line,{line['id']}"
            ]
            status = STATUS[record["state"]]
            views.append(
                m.PurchaseRequisition(
                    requisition_id=record["number"],
                    item_id=line["product."]["code"],
                    quantity=float(line["quantity"]),
                    status=status,
                    reason=extras.reason or record.get("description"),
                    requested_by=extras.requested_by or (record.get("employee.") or {}).get("rec_name"),
                    source_ref=extras.source_ref,
                    po_id=extras.po_id or next((n for n in ordered if n), None),
                    allowed_actions=REQUISITION.actions(status),
                    version=mapping.version(record.get("write_date") or record.get("create_date")),
                    created_at=mapping.utc(record.get("create_date")),
                    updated_at=mapping.utc(record.get("write_date") or record.get("create_date")),
                )
            )
        return views
