"""Purchase orders (confirmed purchase.purchase) and receipts: done stock.shipment.in from a
purchase, done production outputs."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.paging import Page, PageQuery, check_if_match
from contracts.kit.problems import Conflict, IllegalTransition, NotFound, Unprocessable
from contracts.kit.records import new_id
from contracts.models import erp as m
from system_apis.erp import domain
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.client import TrytonError
from system_apis.erp.backends.tryton.connection import (
    MOVE_FIELDS,
    ErpRefused,
    Record,
    bindings_page,
    problem_of,
    serialise,
)
from system_apis.erp.backends.tryton.mapping import Places
from system_apis.erp.backends.tryton.records import Records, lot_fact
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import Operation

PURCHASE_FIELDS = ["number", "party.code", "state", "shipment_state", "reference", "currency.code"]
PURCHASE_FIELDS += ["create_date", "write_date"]


class Purchasing(Records):
    async def create_purchase_order(
        self, session: AsyncSession, data: m.PurchaseOrderCreate, op: Operation
    ) -> m.PurchaseOrder:
        places = await self.places()
        key = mapping.tryton_key(op)
        found = await self.find("purchase.purchase", [("comment", "=", key)], ["state"], limit=1)
        if found:
            purchase_id, state = found[0]["id"], found[0]["state"]
        else:
            party = await self.party_id(data.supplier_id)
            currencies = {line.currency for line in data.lines}
            if len(currencies) > 1:
                raise Unprocessable("a Tryton purchase has one currency", slug="mixed-currencies")
            lines = []
            for line in data.lines:
                product, unit = await self.product(line.item_id)
                lines.append(
                    {
                        "product": product,
                        "quantity": await self.in_unit(line.item_id, line.quantity),
                        "unit": unit,
                        "unit_price": Decimal(line.unit_price or "0"),
                    }
                )
            address = await self.call("party.address", "search", [("party", "=", party)], 0, 1, None)
            currency = await self.call(
                "currency.currency", "search", [("code", "=", currencies.pop())], 0, 1, None
            )
            if not currency:
                raise Unprocessable("Tryton has no such currency", slug="unknown-currency")
            [purchase_id] = await self.call(
                "purchase.purchase",
                "create",
                [
                    {
                        "party": party,
                        "invoice_address": address[0] if address else None,
                        "warehouse": places.home(),
                        "currency": currency[0],
                        "invoice_method": "manual",
                        "reference": data.reference,
                        "comment": key,
                        "lines": [("create", lines)],
                    }
                ],
            )
            state = "draft"
        if state == "draft":
            await self.call("purchase.purchase", "quote", [purchase_id])
            state = "quotation"
        if state == "quotation":
            await self.call("purchase.purchase", "confirm", [purchase_id])
        return await self._purchase([("id", "=", purchase_id)])

    async def get_purchase_order(self, session: AsyncSession, po_id: str) -> m.PurchaseOrder:
        return await self._purchase([("number", "=", po_id)], po_id)

    async def _purchase(self, where: list[Any], po_id: str = "") -> m.PurchaseOrder:
        found = await self.find("purchase.purchase", where, PURCHASE_FIELDS, limit=1)
        if not found:
            raise NotFound(f"purchase order {po_id} does not exist", slug="purchase-order-not-found")
        [view] = await self._purchases(found)
        return view

    async def _purchases(self, purchases: list[Record]) -> list[m.PurchaseOrder]:
        lines = await self.find(
            "purchase.line",
            [("purchase", "in", [p["id"] for p in purchases])],
            ["purchase", "product.code", "quantity", "unit_price", "moves", "sequence"],
            order=[("purchase", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        received: dict[int, float] = {}
        moves = await self.find(
            "stock.move",
            [("origin", "in", [f"purchase.line,{line['id']}" for line in lines])],
            ["origin", "internal_quantity", "state"],
        )
        states: dict[int, set[str]] = {}  # per line: the states of its moves
        for move in moves:
            line_id = int(move["origin"].split(",")[1])
            states.setdefault(line_id, set()).add(move["state"])
            if move["state"] == "done":
                received[line_id] = round(received.get(line_id, 0.0) + float(move["internal_quantity"]), 3)
        views = []
        for p in purchases:
            own = [line for line in lines if line["purchase"] == p["id"]]
            views.append(
                m.PurchaseOrder(
                    po_id=p["number"],
                    supplier_id=p["party."]["code"],
                    status=mapping.purchase_status(
                        p["state"], p["shipment_state"], [states.get(line["id"], set()) for line in own]
                    ),
                    reference=p.get("reference"),
                    lines=[
                        m.PurchaseOrderLine(
                            line_no=number,
                            item_id=line["product."]["code"],
                            quantity=float(line["quantity"]),
                            received_quantity=received.get(line["id"], 0.0),
                            unit_price=Decimal(line["unit_price"]).quantize(Decimal("0.0001")),
                            currency=p["currency."]["code"],
                        )
                        for number, line in enumerate(own, start=1)
                    ],
                    version=mapping.version(p.get("write_date") or p.get("create_date")),
                    created_at=mapping.utc(p.get("create_date")),
                    updated_at=mapping.utc(p.get("write_date") or p.get("create_date")),
                )
            )
        return views

    async def list_purchase_orders(
        self,
        session: AsyncSession,
        q: PageQuery,
        supplier_id: str | None,
        statuses: Sequence[m.PurchaseOrderStatus],
    ) -> Page[m.PurchaseOrder]:
        where: list[Any] = [("number", "!=", None)]
        if supplier_id:
            where.append(("party.code", "=", supplier_id))

        # The status is worked out from a purchase and its shipments, not a field Tryton filters on.
        async def views(rows: list[Record]) -> dict[str, m.PurchaseOrder]:
            made = await self._purchases(rows)
            return {v.po_id: v for v in made if not statuses or v.status in statuses}

        return await self.listed("purchase.purchase", where, PURCHASE_FIELDS, q, views, key="number")

    async def cancel_purchase_order(
        self, session: AsyncSession, po_id: str, if_match: str | None
    ) -> m.PurchaseOrder:
        """As a buyer cancels a purchase in Tryton: one still confirmed goes back to draft and is
        cancelled; one Tryton is processing (its receipt moves planned) has its moves cancelled and
        the shipment exception handled by ignoring them, after which Tryton closes it. Only a
        purchase nothing has been received on (ours: open) can be cancelled, as with the
        embedded ERP; the steps look at Tryton's state, so a retry finishes a cancel."""
        await serialise(session, f"po:{po_id}")
        po = await self.get_purchase_order(session, po_id)
        check_if_match(if_match, po.version)
        if po.status is m.PurchaseOrderStatus.CANCELLED:
            return po
        if po.status is not m.PurchaseOrderStatus.OPEN:
            raise IllegalTransition("purchase order", po.status, "cancel")
        [purchase] = await self.find("purchase.purchase", [("number", "=", po_id)], ["state", "lines"])
        if purchase["state"] == "confirmed":
            await self.call("purchase.purchase", "draft", [purchase["id"]])
            purchase["state"] = "draft"
        if purchase["state"] in ("draft", "quotation"):
            await self.call("purchase.purchase", "cancel", [purchase["id"]])
            return await self.get_purchase_order(session, po_id)
        moves = await self.find(
            "stock.move",
            [("origin", "in", [f"purchase.line,{line}" for line in purchase["lines"]])],
            ["state", "shipment"],
        )
        if any(mv["shipment"] and mv["state"] != "cancelled" for mv in moves):
            raise IllegalTransition("purchase order", "being received in Tryton", "cancel")
        planned = [mv["id"] for mv in moves if mv["state"] not in ("cancelled", "done")]
        if planned:
            await self.call("stock.move", "cancel", planned)
        await self._ignore_cancelled_moves(purchase["id"], [mv["id"] for mv in moves])
        return await self.get_purchase_order(session, po_id)

    async def _ignore_cancelled_moves(self, purchase: int, moves: list[int]) -> None:
        """Tryton's Handle Shipment Exception wizard, as its client runs it: ignore the moves."""
        wizard = "wizard.purchase.handle.shipment.exception"
        context = {"active_model": "purchase.purchase", "active_id": purchase, "active_ids": [purchase]}
        session, _start, _end = await self.client.rpc(f"{wizard}.create", [self.client.context])
        try:
            form = {"ask": {"recreate_moves": [], "ignore_moves": moves, "domain_moves": moves}}
            await self.client.rpc(
                f"{wizard}.execute", [session, form, "handle", {**self.client.context, **context}]
            )
        except TrytonError as exc:
            raise problem_of(exc) from exc
        finally:
            with suppress(TrytonError):
                await self.client.rpc(f"{wizard}.delete", [session, self.client.context])

    async def post_goods_receipt(
        self, session: AsyncSession, data: m.GoodsReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        places = await self.places_for(data.location)
        bound = await self.bound(session, "receipt", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.GoodsReceipt)
        key = mapping.tryton_key(op)
        await serialise(session, f"po:{data.po_id}")
        found = await self.find("stock.shipment.in", [("reference", "=", key)], ["state"], limit=1)
        po = await self.get_purchase_order(session, data.po_id) if not found else None
        if found:
            shipment, state = found[0]["id"], found[0]["state"]
        else:
            assert po is not None
            shipment = await self._start_receipt(session, data, po, places, key)
            state = "draft"
        await self.finish("stock.shipment.in", shipment, state)
        [move] = await self.find(
            "stock.move",
            [("shipment", "=", f"stock.shipment.in,{shipment}")],
            [*MOVE_FIELDS, "origin"],
        )
        purchase = await self.purchase_of_line(move["origin"])
        with suppress(ErpRefused):  # recreates the open rest of the line; the receipt stands either way
            await self.call("purchase.purchase", "process", [purchase["id"]])
        item = await self.item(move["product."]["code"])
        return await self.record_receipt(session, op, move, data.supplier_lot, purchase, places, item)

    async def _start_receipt(
        self, session: AsyncSession, data: m.GoodsReceiptCreate, po: m.PurchaseOrder, places: Places, key: str
    ) -> int:
        if po.status not in (m.PurchaseOrderStatus.OPEN, m.PurchaseOrderStatus.PARTIALLY_RECEIVED):
            raise IllegalTransition("purchase order", po.status, "receive goods")
        line = next((li for li in po.lines if li.line_no == data.line_no), None)
        if line is None:
            raise Unprocessable(
                f"purchase order {po.po_id} has no line {data.line_no}", slug="unknown-po-line"
            )
        quantity = await self.in_unit(line.item_id, data.quantity)
        open_quantity = round(line.quantity - line.received_quantity, 3)
        if quantity > open_quantity + 1e-9:
            raise Conflict(
                f"line {line.line_no} of {po.po_id} has {open_quantity:g} open; "
                f"{quantity:g} would over-receive",
                slug="over-receipt",
                open_quantity=open_quantity,
            )
        item = await self.item(line.item_id)
        [purchase] = await self.find("purchase.purchase", [("number", "=", po.po_id)], ["party", "lines"])
        line_id = purchase["lines"][data.line_no - 1]
        pending = await self.find(
            "stock.move",
            [("origin", "=", f"purchase.line,{line_id}"), ("state", "=", "draft"), ("shipment", "=", None)],
            ["internal_quantity", "product"],
        )
        move = next((mv for mv in pending if float(mv["internal_quantity"]) + 1e-9 >= quantity), None)
        if move is None:
            raise Conflict(
                f"Tryton has no open move of {quantity:g} for line {line.line_no} of {po.po_id}",
                slug="erp-refused",
            )
        lot = await self.lot_record_id(session, data.lot_id or new_id("LOT"), move["product"], line.item_id)
        target = places.location(data.location, domain.receipt_status(item.inspection_required))
        [shipment] = await self.call(
            "stock.shipment.in",
            "create",
            [
                {
                    "supplier": purchase["party"],
                    "warehouse": places.warehouses[data.location],
                    "warehouse_input": target,  # one step: the goods land where their status says
                    "warehouse_storage": target,
                    "reference": key,
                    "incoming_moves": [
                        ("add", [move["id"]]),
                        ("write", [move["id"]], {"quantity": quantity, "lot": lot, "to_location": target}),
                    ],
                }
            ],
        )
        return int(shipment)

    async def post_production_receipt(
        self, session: AsyncSession, data: m.ProductionReceiptCreate, op: Operation
    ) -> m.GoodsReceipt:
        places = await self.places_for(data.location)
        bound = await self.bound(session, "receipt", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.GoodsReceipt)
        product = await self.product_id(data.item_id)
        item = await self.item(data.item_id)
        quantity = await self.in_unit(data.item_id, data.quantity)
        lot_number = data.lot_id or new_id("LOT")
        status = data.stock_status or domain.receipt_status(item.inspection_required)
        target = places.location(data.location, status)
        # The lot's number is held before an earlier attempt is looked for, as well as while its
        # Tryton lot is found or made (lot_record_id): two receipts into one lot see each other.
        await serialise(session, f"lot:{lot_number}")
        production, state = await self.own_production(
            session, "outputs", lot_number, product, quantity, target
        )
        if production is None:
            lot = await self.lot_record_id(session, lot_number, product, data.item_id)
            unit = (await self.product(data.item_id))[1]
            where = await self.production_location(places.warehouses[data.location])
            output = {
                "product": product,
                "unit": unit,
                "quantity": quantity,
                "lot": lot,
                "from_location": where,
                "to_location": target,
                "unit_price": Decimal(item.standard_price or 0),
                "currency": await self.currency_id(),
            }
            [production] = await self.call(
                "production",
                "create",
                [
                    {
                        "product": product,
                        "unit": unit,
                        "quantity": quantity,
                        "warehouse": places.warehouses[data.location],
                        "location": where,
                        "outputs": [("create", [output])],
                    }
                ],
            )
            state = "draft"
        await self.finish("production", production, state)
        [move] = await self.find("stock.move", [("production_output", "=", production)], MOVE_FIELDS)
        return await self.record_receipt(
            session, op, move, None, {}, places, item, production_order=data.production_order
        )

    async def get_goods_receipt(self, session: AsyncSession, receipt_id: str) -> m.GoodsReceipt:
        row = await session.get(BindingRow, receipt_id)
        if row is None or row.kind != "receipt":
            raise NotFound(f"goods receipt {receipt_id} does not exist", slug="goods-receipt-not-found")
        return msgspec.json.decode(row.view, type=m.GoodsReceipt)

    async def list_goods_receipts(
        self,
        session: AsyncSession,
        q: PageQuery,
        po_id: str | None,
        supplier_id: str | None = None,
        lot_id: str | None = None,
    ) -> Page[m.GoodsReceipt]:
        where = [
            column == value
            for column, value in ((BindingRow.po_id, po_id), (BindingRow.lot_id, lot_id))
            if value
        ]
        if supplier_id:
            where.append(BindingRow.lot_view.contains(lot_fact("supplier_id", supplier_id)))
        return await bindings_page(session, "receipt", m.GoodsReceipt, q, where)
