"""What Tryton did, as our records: bindings and events written in the local transaction with
no Tryton call (shared by the commands and the change poller), and the Tryton reads they need:
the purchase behind a receipt, a production an earlier attempt of a command started."""

from __future__ import annotations

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.paging import utcnow
from contracts.kit.records import new_id
from contracts.models import erp as m
from system_apis.erp import events
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.connection import (
    Record,
    Tryton,
)
from system_apis.erp.backends.tryton.mapping import Places
from system_apis.erp.backends.tryton.store import BindingRow
from system_apis.erp.port import Operation


class Records(Tryton):
    async def purchase_line_of(self, origin: str | None) -> str | None:
        """The `purchase.line,<id>` a received move came from, through the dock's second step."""
        if origin and origin.startswith("stock.move,"):  # the dock's second step: its incoming move
            [incoming] = await self.find("stock.move", [("id", "=", int(origin.split(",")[1]))], ["origin"])
            origin = incoming["origin"]
        return origin if origin and origin.startswith("purchase.line,") else None

    async def purchase_of_line(self, origin: str | None) -> Record:
        origin = await self.purchase_line_of(origin)
        if origin is None:
            return {}
        [line] = await self.find("purchase.line", [("id", "=", int(origin.split(",")[1]))], ["purchase"])
        [purchase] = await self.find(
            "purchase.purchase", [("id", "=", line["purchase"])], ["number", "lines", "party.code"]
        )
        purchase["line_no"] = purchase["lines"].index(line["id"]) + 1
        return purchase

    async def purchase_origin(self, session: AsyncSession, lot_id: str) -> str | None:
        """The purchase line a lot was received on (`purchase.line,<id>`), for moves back to it."""
        move = await session.scalar(
            select(BindingRow.tryton_id)
            .where(BindingRow.kind == "receipt", BindingRow.lot_id == lot_id)
            .order_by(BindingRow.created_at)
            .limit(1)
        )
        if move is None:
            return None
        [received] = await self.find("stock.move", [("id", "=", move)], ["origin"])
        return await self.purchase_line_of(received["origin"])

    async def record_receipt(
        self,
        session: AsyncSession,
        op: Operation | None,
        move: Record,
        supplier_lot: str | None,
        purchase: Record,
        places: Places,
        item: m.Item,
        *,
        production_order: str | None = None,
    ) -> m.GoodsReceipt:
        """Bind a done incoming move to a receipt of ours and announce it (or return the binding
        an earlier attempt, or the poller, already made). Only local writes: no Tryton call."""
        existing = await self.bound_record(session, "receipt", "stock.move", move["id"])
        if existing is not None:
            return msgspec.json.decode(existing.view, type=m.GoodsReceipt)
        place, status = places.keys[move["to_location"]]
        now = utcnow()
        source = "purchase" if purchase else "production"
        supplier_id = purchase["party."]["code"] if purchase else None
        quantity = float(move["internal_quantity"])
        txn = m.InventoryTransaction(
            txn_id=new_id("TXN"),
            type=m.MovementType.RECEIPT,
            lot_id=move["lot."]["number"],
            item_id=item.item_id,
            quantity=quantity,
            location=place,
            to_location=None,
            from_status=None,
            to_status=status,
            order_ref=production_order,
            cost_centre=None,
            reason=None,
            reverses=None,
            reversed_by=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        receipt = m.GoodsReceipt(
            receipt_id=new_id("GR"),
            source=source,
            po_id=purchase.get("number"),
            line_no=purchase.get("line_no"),
            production_order=production_order,
            item_id=item.item_id,
            supplier_id=supplier_id,
            lot_id=txn.lot_id,
            quantity=quantity,
            location=place,
            stock_status=status,
            txn_id=txn.txn_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        lot_view = {"supplier_id": supplier_id, "supplier_lot": supplier_lot, "origin": source}
        session.add(
            BindingRow(
                id=receipt.receipt_id,
                kind="receipt",
                model="stock.move",
                tryton_id=move["id"],
                lot_id=receipt.lot_id,
                po_id=receipt.po_id,
                type=source,
                order_ref=production_order,
                operation=op,
                view=msgspec.json.encode(receipt),
                lot_view=msgspec.json.encode(lot_view),
            )
        )
        await self.record_txn(session, op, move["id"], txn)
        await events.receipt_posted(session, receipt, inspection_required=item.inspection_required)
        return receipt

    async def record_movement(
        self,
        session: AsyncSession,
        op: Operation | None,
        move: Record,
        places: Places,
        data: m.InventoryTransactionCreate | None,
    ) -> m.InventoryTransaction:
        """Our transaction for a done move between mapped locations (or out of them), bound once."""
        existing = await self.bound_record(session, "txn", "stock.move", move["id"])
        if existing is not None:
            return msgspec.json.decode(existing.view, type=m.InventoryTransaction)
        source = places.keys.get(move["from_location"])
        target = places.keys.get(move["to_location"])
        kind = mapping.movement_type(source, target, places.types.get(move["to_location"], ""))
        assert kind is not None
        assert source is not None
        now = utcnow()
        txn = m.InventoryTransaction(
            txn_id=new_id("TXN"),
            type=kind,
            lot_id=move["lot."]["number"],
            item_id=move["product."]["code"],
            quantity=float(move["internal_quantity"]),
            location=source[0],
            to_location=target[0] if target and target[0] != source[0] else None,
            from_status=source[1],
            to_status=target[1] if target else None,
            order_ref=data.order_ref if data else None,
            cost_centre=data.cost_centre if data else None,
            reason=data.reason if data else None,
            reverses=None,
            reversed_by=None,
            version=1,
            created_at=now,
            updated_at=now,
            quality_ref=data.quality_ref if data else None,
        )
        await self.record_txn(session, op, move["id"], txn)
        return txn

    async def record_reversal(
        self,
        session: AsyncSession,
        op: Operation | None,
        move: Record,
        original: BindingRow,
        reason: str | None,
    ) -> m.InventoryTransaction:
        """Our reversal for a done compensating move (its origin is the move it compensates): the
        original's statuses swapped, and the original marked reversed, bound once."""
        existing = await self.bound_record(session, "txn", "stock.move", move["id"])
        if existing is not None:
            return msgspec.json.decode(existing.view, type=m.InventoryTransaction)
        first = msgspec.json.decode(original.view, type=m.InventoryTransaction)
        now = utcnow()
        txn = msgspec.structs.replace(
            first,
            txn_id=new_id("TXN"),
            type=m.MovementType.REVERSAL,
            from_status=first.to_status,
            to_status=first.from_status,
            reason=reason,
            reverses=first.txn_id,
            reversed_by=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        original.view = msgspec.json.encode(
            msgspec.structs.replace(first, reversed_by=txn.txn_id, version=first.version + 1, updated_at=now)
        )
        await self.record_txn(session, op, move["id"], txn)
        return txn

    async def record_txn(
        self, session: AsyncSession, op: Operation | None, move_id: int, txn: m.InventoryTransaction
    ) -> None:
        session.add(
            BindingRow(
                id=txn.txn_id,
                kind="txn",
                model="stock.move",
                tryton_id=move_id,
                lot_id=txn.lot_id,
                type=txn.type,
                order_ref=txn.order_ref,
                operation=op,
                view=msgspec.json.encode(txn),
            )
        )
        await session.flush()
        await events.transaction_posted(session, txn)

    async def own_production(
        self, session: AsyncSession, side: str, lot: str, product: int, quantity: float, location: int
    ) -> tuple[int | None, str]:
        """A production our Tryton user started for this lot, product, quantity and place that no
        record of ours claims yet: an earlier attempt of this command."""
        far = "to_location" if side == "outputs" else "from_location"
        candidates = await self.find(
            "stock.move",
            [
                (f"production_{side[:-1]}", "!=", None),
                ("lot.number", "=", lot),
                ("product", "=", product),
                ("quantity", "=", quantity),
                (far, "=", location),
                ("state", "!=", "cancelled"),
                ("create_uid", "=", self.uid),
            ],
            [f"production_{side[:-1]}", f"production_{side[:-1]}.state"],
        )
        for move in candidates:
            kind = "receipt" if side == "outputs" else "txn"
            if await self.bound_record(session, kind, "stock.move", move["id"]) is None:
                return int(move[f"production_{side[:-1]}"]), move[f"production_{side[:-1]}."]["state"]
        return None, "draft"


def lot_fact(name: str, value: str) -> bytes:
    """How one fact reads inside a receipt binding's `lot_view` (msgspec JSON: no spaces), to find
    the receipts of a supplier or of a supplier's lot number exactly."""
    return msgspec.json.encode(name) + b":" + msgspec.json.encode(value)
