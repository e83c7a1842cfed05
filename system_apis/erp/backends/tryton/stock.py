"""Lots (stock.lot, balances from their done moves) and stock movements: done internal shipments,
supplier returns and production inputs between the mapped locations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.inputs import kept_quantity
from contracts.kit.paging import Page, PageQuery, check_if_match
from contracts.kit.problems import Conflict, NotFound, Unprocessable
from contracts.models import erp as m
from system_apis.erp import domain
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.connection import (
    MOVE_FIELDS,
    Record,
    bindings_page,
    serialise,
)
from system_apis.erp.backends.tryton.mapping import UNR, Places
from system_apis.erp.backends.tryton.records import Records, lot_fact
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import Operation


class Stock(Records):
    async def get_lot(self, session: AsyncSession, lot_id: str) -> m.Lot:
        lot = await self._lot(session, lot_id)
        if lot is None:
            raise NotFound(f"lot {lot_id} does not exist", slug="lot-not-found")
        return lot[0]

    async def _lot(
        self, session: AsyncSession, lot_id: str
    ) -> tuple[m.Lot, dict[mapping.Key, float], int, list[Record]] | None:
        """The lot as we show it, its balances, its Tryton id and its moves (with the shipment
        each belongs to); None if Tryton has no such lot."""
        places = await self.places()
        # One call for a lot with moves (every lot but a brand-new one), a second only without.
        moves = await self.find(
            "stock.move",
            [("lot.number", "=", lot_id)],
            [*MOVE_FIELDS, "lot.create_date", "shipment", "shipment.reference", "shipment.state", "origin"],
        )
        if moves:
            lot = {"id": moves[0]["lot."]["id"], "number": lot_id, "product.": moves[0]["product."]}
            lot["create_date"] = moves[0]["lot."]["create_date"]
        else:
            found = await self.find(
                "stock.lot", [("number", "=", lot_id)], ["number", "product.code", "create_date"], limit=1
            )
            if not found:
                return None
            lot = found[0]
        view, balances = await self._lot_view(session, lot, moves, places)
        return view, balances, int(lot["id"]), moves

    async def _lot_view(
        self, session: AsyncSession, lot: Record, moves: list[Record], places: Places
    ) -> tuple[m.Lot, dict[mapping.Key, float]]:
        totals = mapping.balances(moves, places)
        receipt = await session.scalar(
            select(BindingRow.lot_view)
            .where(BindingRow.kind == "receipt", BindingRow.lot_id == lot["number"])
            .order_by(BindingRow.created_at)
            .limit(1)
        )
        origin = msgspec.json.decode(receipt) if receipt else {}
        stamps = [mv["write_date"] or mv["create_date"] for mv in moves] or [lot["create_date"]]
        balances = [
            m.Balance(location=place, status=status, quantity=quantity)
            for (place, status), quantity in sorted(totals.items())
            if quantity > 0
        ]
        view = m.Lot(
            lot_id=lot["number"],
            item_id=lot["product."]["code"],
            supplier_id=origin.get("supplier_id"),
            supplier_lot=origin.get("supplier_lot"),
            origin=origin.get("origin", "purchase"),
            quantity=round(sum(b.quantity for b in balances), 3),
            balances=balances,
            # Every movement adds moves to the lot and none is ever removed.
            version=len(moves) + 1,
            created_at=mapping.utc(lot["create_date"]),
            updated_at=mapping.utc(max(stamps)),
        )
        return view, totals

    async def list_lots(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        supplier_id: str | None,
        status: m.StockStatus | None,
        supplier_lot: str | None = None,
    ) -> Page[m.Lot]:
        places = await self.places()
        where: list[Any] = []
        if item_id:
            where.append(("product.code", "=", item_id))
        # What Tryton has no field for (the supplier, its lot number) a receipt's binding knows.
        for fact, value in (("supplier_id", supplier_id), ("supplier_lot", supplier_lot)):
            if value:
                numbers = await session.scalars(
                    select(BindingRow.lot_id).where(
                        BindingRow.kind == "receipt", BindingRow.lot_view.contains(lot_fact(fact, value))
                    )
                )
                where.append(("number", "in", list(numbers)))

        async def views(rows: list[Record]) -> dict[str, m.Lot]:
            moves = await self.find(
                "stock.move", [("lot", "in", [r["id"] for r in rows])], [*MOVE_FIELDS, "lot"]
            )
            made = {}
            for row in rows:
                view, totals = await self._lot_view(
                    session, row, [mv for mv in moves if mv["lot"] == row["id"]], places
                )
                if (supplier_id and view.supplier_id != supplier_id) or (
                    supplier_lot and view.supplier_lot != supplier_lot
                ):
                    continue
                if status is None or any(s == status and qty > 0 for (_p, s), qty in totals.items()):
                    made[row["number"]] = view
            return made

        fields = ["number", "product.code", "create_date"]
        return await self.listed("stock.lot", where, fields, q, views, key="number")

    async def post_movement(
        self,
        session: AsyncSession,
        data: m.InventoryTransactionCreate,
        if_match: str | None,
        op: Operation,
    ) -> m.InventoryTransaction:
        places = await self.places_for(data.location, data.to_location)
        bound = await self.bound(session, "txn", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.InventoryTransaction)
        await serialise(session, f"lot:{data.lot_id}")
        lot = await self._lot(session, data.lot_id)
        if lot is None:
            raise Unprocessable(f"lot {data.lot_id} does not exist", slug="unknown-lot")
        view, balances, lot_record, moves = lot
        await self.in_unit(view.item_id, data.quantity)  # a quantity Tryton would refuse: 422 first
        kind = m.MovementType(data.type)
        model = _document_of(kind)
        document, state = await self._started(session, model, op, data, places, moves)
        if document is None:
            check_if_match(if_match, view.version)
            movement = domain.plan_movement(
                balances,
                kind,
                location=data.location,
                quantity=data.quantity,
                from_status=data.from_status,
                to_location=data.to_location,
                order_ref=data.order_ref,
            )
            origin = (
                await self.purchase_origin(session, data.lot_id)
                if model == "stock.shipment.in.return"
                else None
            )
            document = await self._start_movement(model, movement, view, lot_record, places, op, origin)
            state = "draft"
        await self.finish(model, document, state)
        moves = await self.find("stock.move", _moves_of(model, document), [*MOVE_FIELDS, "to_location.type"])
        [move] = [mv for mv in moves if mv["state"] == "done"]
        return await self.record_movement(session, op, move, places, data)

    async def _started(
        self,
        session: AsyncSession,
        model: str,
        op: Operation,
        data: m.InventoryTransactionCreate,
        places: Places,
        moves: list[Record],
    ) -> tuple[int | None, str]:
        """The document an earlier attempt of this command started: a shipment carrying its key
        holds a move of this lot, so the lot's moves (already read) show it."""
        if model == "production":
            product = await self.product_id((await self.get_lot(session, data.lot_id)).item_id)
            source = places.location(data.location, UNR)
            return await self.own_production(
                session, "inputs", data.lot_id, product, kept_quantity(data.quantity), source
            )
        key = mapping.tryton_key(op)
        for move in moves:
            shipment = move.get("shipment.") or {}
            if str(move.get("shipment") or "").startswith(f"{model},") and shipment.get("reference") == key:
                return int(shipment["id"]), str(shipment["state"])
        return None, "draft"

    async def _start_movement(
        self,
        model: str,
        movement: domain.Movement,
        lot: m.Lot,
        lot_record: int,
        places: Places,
        op: Operation,
        origin: str | None = None,
    ) -> int:
        product, unit = await self.product(lot.item_id)
        assert movement.from_status is not None
        source = places.location(movement.location, movement.from_status)
        if movement.to_status is not None:
            target = places.location(movement.to_location or movement.location, movement.to_status)
        elif movement.type is m.MovementType.SCRAP:
            target = places.lost_found
        elif movement.type is m.MovementType.RETURN_TO_VENDOR:
            target = places.supplier
        else:
            target = await self.production_location(places.warehouses[movement.location])
        move: Record = {
            "product": product,
            "unit": unit,
            "quantity": movement.quantity,
            "lot": lot_record,
            "from_location": source,
            "to_location": target,
        }
        if model == "production":
            values: Record = {
                "warehouse": places.warehouses[movement.location],
                "location": target,
                "inputs": [("create", [move])],
            }
        elif model == "stock.shipment.in.return":
            if not lot.supplier_id:
                raise Conflict(f"lot {lot.lot_id} came from no supplier", slug="no-supplier")
            # The purchase line the goods came on: Tryton wants an origin on moves to a supplier.
            move.update(unit_price=Decimal(0), currency=await self.currency_id(), origin=origin)
            values = {
                "supplier": await self.party_id(lot.supplier_id),
                "from_location": source,
                "to_location": target,
                "reference": mapping.tryton_key(op),
                "moves": [("create", [move])],
            }
        else:
            values = {
                "from_location": source,
                "to_location": target,
                "reference": mapping.tryton_key(op),
                "moves": [("create", [move])],
            }
        [document] = await self.call(model, "create", [values])
        return int(document)

    async def reverse_movement(
        self, session: AsyncSession, txn_id: str, data: m.ReversalCreate, op: Operation
    ) -> m.InventoryTransaction:
        """A compensating move the other way whose origin is the move it reverses: that origin is
        also how a retry finds it (a transaction is reversed once). Out of a storage location it
        is an internal shipment, so Tryton reserves the quantity; from lost and found, a supplier
        or production (a scrap, a return, an issue reversed) a move done directly."""
        original = await session.get(BindingRow, txn_id)
        if original is None or original.kind != "txn":
            raise NotFound(
                f"inventory transaction {txn_id} does not exist", slug="inventory-transaction-not-found"
            )
        bound = await self.bound(session, "txn", op)
        if bound is not None:
            return msgspec.json.decode(bound.view, type=m.InventoryTransaction)
        first = msgspec.json.decode(original.view, type=m.InventoryTransaction)
        if first.reversed_by:
            raise Conflict(f"{txn_id} was already reversed by {first.reversed_by}", slug="already-reversed")
        places = await self.places()
        await serialise(session, f"lot:{first.lot_id}")
        lot = await self._lot(session, first.lot_id)
        assert lot is not None  # a transaction of ours has its lot in Tryton
        _view, balances, lot_record, moves = lot
        origin = f"stock.move,{original.tryton_id}"
        started = next(
            (mv for mv in moves if mv.get("origin") == origin and mv["state"] != "cancelled"), None
        )
        if started is None:
            recorded = domain.recorded_movement(
                m.MovementType(first.type),
                location=first.location,
                quantity=first.quantity,
                from_status=first.from_status,
                to_status=first.to_status,
                to_location=first.to_location,
            )
            domain.plan_reversal(balances, recorded)  # refuses receipts, reversals, what is gone
            [reversed_move] = [mv for mv in moves if mv["id"] == original.tryton_id]
            move_id = await self._start_reversal(first, reversed_move, lot_record, places, op, origin)
        else:
            move_id = int(started["id"])
        move = await self._done_move(move_id)
        return await self.record_reversal(session, op, move, original, data.reason)

    async def _start_reversal(
        self,
        first: m.InventoryTransaction,
        reversed_move: Record,
        lot: int,
        places: Places,
        op: Operation,
        origin: str,
    ) -> int:
        product, unit = await self.product(first.item_id)
        source, target = reversed_move["to_location"], reversed_move["from_location"]
        move: Record = {
            "product": product,
            "unit": unit,
            "quantity": first.quantity,
            "lot": lot,
            "from_location": source,
            "to_location": target,
            "origin": origin,
        }
        if places.types.get(source) in ("storage", "view"):
            [shipment] = await self.call(
                "stock.shipment.internal",
                "create",
                [
                    {
                        "from_location": source,
                        "to_location": target,
                        "reference": mapping.tryton_key(op),
                        "moves": [("create", [move])],
                    }
                ],
            )
            [created] = await self.call(
                "stock.move", "search", [("shipment", "=", f"stock.shipment.internal,{shipment}")], 0, 1, None
            )
            return int(created)
        if places.types.get(source) == "supplier":
            move.update(unit_price=Decimal(0), currency=await self.currency_id())
        [created] = await self.call("stock.move", "create", [move])
        return int(created)

    async def _done_move(self, move_id: int) -> Record:
        """Take a compensating move (alone, or in its shipment) to done; return it as it is then."""
        [move] = await self.find(
            "stock.move", [("id", "=", move_id)], [*MOVE_FIELDS, "shipment", "shipment.state"]
        )
        if move["state"] != "done":
            if move["shipment"]:
                model, _id = str(move["shipment"]).split(",")
                await self.finish(model, int(_id), move["shipment."]["state"])
            else:
                await self.call("stock.move", "do", [move_id])
            [move] = await self.find("stock.move", [("id", "=", move_id)], MOVE_FIELDS)
        return move

    async def get_movement(self, session: AsyncSession, txn_id: str) -> m.InventoryTransaction:
        row = await session.get(BindingRow, txn_id)
        if row is None or row.kind != "txn":
            raise NotFound(
                f"inventory transaction {txn_id} does not exist", slug="inventory-transaction-not-found"
            )
        return msgspec.json.decode(row.view, type=m.InventoryTransaction)

    async def list_movements(
        self,
        session: AsyncSession,
        q: PageQuery,
        lot_id: str | None,
        type_: m.MovementType | None,
        order_ref: str | None,
    ) -> Page[m.InventoryTransaction]:
        where = []
        if lot_id:
            where.append(BindingRow.lot_id == lot_id)
        if type_:
            where.append(BindingRow.type == type_)
        if order_ref:
            where.append(BindingRow.order_ref == order_ref)
        return await bindings_page(session, "txn", m.InventoryTransaction, q, where)


def _document_of(kind: m.MovementType) -> str:
    if kind is m.MovementType.RETURN_TO_VENDOR:
        return "stock.shipment.in.return"
    if kind is m.MovementType.ISSUE:
        return "production"
    return "stock.shipment.internal"


def _moves_of(model: str, document: int) -> list[Any]:
    if model == "production":
        return [("production_input", "=", document)]
    return [("shipment", "=", f"{model},{document}")]
