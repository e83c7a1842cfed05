"""Deliveries (done stock.shipment.out, one per location of the delivery, each in one step: the
lot's location is both its storage and its output) and quality alerts on purchases (an ir.note
on the purchase, where purchasing reads it in Tryton)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import erp as ev
from contracts.kit.paging import Page, PageQuery, utcnow
from contracts.kit.problems import NotFound, Unprocessable
from contracts.kit.records import new_id
from contracts.kit.repository import announce
from contracts.models import erp as m
from system_apis.erp import holds
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.connection import MOVE_FIELDS, bindings_page, serialise
from system_apis.erp.backends.tryton.stock import Stock
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.events import SOURCE
from system_apis.erp.port import Operation


class Shipping(Stock):
    async def create_delivery(
        self, session: AsyncSession, data: m.DeliveryCreate, op: Operation
    ) -> m.Delivery:
        bound = await self.bound(session, "delivery", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.Delivery)
        places = await self.places_for(*(line.location for line in data.lines))
        customers = await self.find("party.party", [("code", "=", data.customer_id)], ["addresses"], limit=1)
        if not customers:
            raise Unprocessable(f"customer {data.customer_id} does not exist", slug="unknown-customer")
        customer = customers[0]
        delivery_id = new_id("DLV")
        lines: list[m.DeliveryLine] = []
        by_place: dict[str, list[m.DeliveryLineCreate]] = {}
        for line in data.lines:
            by_place.setdefault(line.location, []).append(line)
        # Every lot of the delivery is held before any is read, in one order: two deliveries naming
        # the same lots in other orders would otherwise each hold one and wait for the other.
        for lot_id in sorted({line.lot_id for line in data.lines}):
            await serialise(session, f"lot:{lot_id}")
        for place, wanted in sorted(by_place.items()):
            key = f"{mapping.tryton_key(op)}:{place}"
            found = await self.find("stock.shipment.out", [("reference", "=", key)], ["state"], limit=1)
            if found:
                shipment, state = int(found[0]["id"]), found[0]["state"]
            else:
                moves = []
                for line in wanted:
                    lot = await self.get_lot(session, line.lot_id)
                    holds.refuse_held_lot(lot, line)
                    product, unit = await self.product(lot.item_id)
                    quantity = await self.in_unit(lot.item_id, line.quantity)
                    lot_record = await self.lot_record_id(session, line.lot_id, product, lot.item_id)
                    moves.append(
                        {
                            "product": product,
                            "unit": unit,
                            "quantity": quantity,
                            "lot": lot_record,
                            "from_location": places.location(place, mapping.UNR),
                            "to_location": places.customer,
                            "unit_price": Decimal(0),
                            "currency": await self.currency_id(),
                        }
                    )
                source = places.location(place, mapping.UNR)
                [shipment] = await self.call(
                    "stock.shipment.out",
                    "create",
                    [
                        {
                            "customer": customer["id"],
                            "delivery_address": customer["addresses"][0] if customer["addresses"] else None,
                            "warehouse": places.warehouses[place],
                            "warehouse_storage": source,
                            "warehouse_output": source,
                            "reference": key,
                            "moves": [("create", moves)],
                        }
                    ],
                )
                state = "draft"
            await self.finish("stock.shipment.out", int(shipment), state)
            done = await self.find(
                "stock.move",
                [("shipment", "=", f"stock.shipment.out,{shipment}"), ("state", "=", "done")],
                [*MOVE_FIELDS, "to_location.type"],
                order=[("id", "ASC")],
            )
            for move in done:
                txn = await self.record_movement(session, None, move, places, None)
                lines.append(
                    m.DeliveryLine(
                        line_no=len(lines) + 1,
                        lot_id=txn.lot_id,
                        item_id=txn.item_id,
                        quantity=txn.quantity,
                        location=txn.location,
                        txn_id=txn.txn_id,
                    )
                )
        now = utcnow()
        delivery = m.Delivery(
            delivery_id=delivery_id,
            customer_id=data.customer_id,
            order_ref=data.order_ref,
            lines=lines,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(
            BindingRow(
                id=delivery_id,
                kind="delivery",
                model="stock.shipment.out",
                tryton_id=int(shipment),
                lot_id=lines[0].lot_id if lines else "",
                type="delivery",
                order_ref=data.order_ref,
                po_id=data.customer_id,
                operation=op,
                view=msgspec.json.encode(delivery),
            )
        )
        await session.flush()
        await announce(
            session,
            SOURCE,
            data,
            ev.DeliveryPosted,
            delivery_id=delivery_id,
            lot_ids=sorted({line.lot_id for line in lines}),
            txn_ids=[line.txn_id for line in lines],
            subject=delivery_id,
        )
        return delivery

    async def get_delivery(self, session: AsyncSession, delivery_id: str) -> m.Delivery:
        row = await session.get(BindingRow, delivery_id)
        if row is None or row.kind != "delivery":
            raise NotFound(f"delivery {delivery_id} does not exist", slug="delivery-not-found")
        return msgspec.json.decode(row.view, type=m.Delivery)

    async def list_deliveries(
        self, session: AsyncSession, q: PageQuery, customer_id: str | None, order_ref: str | None
    ) -> Page[m.Delivery]:
        where = []
        if customer_id:
            where.append(BindingRow.po_id == customer_id)  # a delivery's binding keeps its customer there
        if order_ref:
            where.append(BindingRow.order_ref == order_ref)
        return await bindings_page(session, "delivery", m.Delivery, q, where)

    async def flag_purchase_order(
        self, session: AsyncSession, po: m.PurchaseOrder, alert: m.QualityAlert, op: Operation
    ) -> None:
        key = mapping.tryton_key(op)
        [purchase] = await self.find("purchase.purchase", [("number", "=", po.po_id)], ["id"], limit=1)
        resource = f"purchase.purchase,{purchase['id']}"
        if await self.find("ir.note", [("resource", "=", resource), ("message", "like", f"%{key}%")], ["id"]):
            return
        case = f" Supplier case {alert.supplier_case_id}." if alert.supplier_case_id else ""
        await self.call(
            "ir.note",
            "create",
            [
                {
                    "resource": resource,
                    "message": f"Quality alert: {alert.item_id} of lot {alert.lot_id} from this supplier "
                    f"failed quality ({alert.reason}).{case} Check this order before it ships. [{key}]",
                }
            ],
        )
