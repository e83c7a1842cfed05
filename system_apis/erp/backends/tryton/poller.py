"""Changes in: what people do in Tryton itself becomes our canonical events.

Every `poll_seconds` the poller reads done stock moves that touch a mapped location, in
(write_date, id) order from the watermark, and turns each one it has not bound yet into our
events: a receipt from a supplier or from production (`erp.goods_receipt.posted.v1` with its
transaction and status change), a movement between or out of mapped locations
(`erp.inventory_txn.posted.v1`, `erp.stock.status_changed.v1`). The events, the bindings and the
new watermark are written in one local transaction: after a crash it resumes from the watermark,
and a move read twice is bound already and announced once.

Each poll looks back `poll_overlap_seconds` behind the watermark, because a Tryton transaction
that started earlier can commit a write_date older than one already read. Moves of documents
the connector itself started are left to the request that started them for
`adopt_after_seconds`; after that (the request died and nobody retried) the poller announces them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from contracts.kit.db import Database
from contracts.kit.problems import Problem
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.store import WatermarkRow

if TYPE_CHECKING:
    from system_apis.erp.backends.tryton.backend import TrytonErp

log = logging.getLogger("plantbridge.erp.tryton.poller")
WATERMARK = "stock.move"
BATCH = 200
FIELDS = ["from_location", "to_location", "internal_quantity", "state", "lot.number", "product.code"]
FIELDS += ["write_date", "create_date", "create_uid", "origin", "shipment", "production_output"]
FIELDS += ["production_input", "to_location.type"]


class Poller:
    def __init__(self, erp: TrytonErp, db: Database) -> None:
        self.erp = erp
        self.db = db
        self.settings = erp.settings

    async def run(self) -> None:
        while True:
            try:
                while await self.poll_once() >= BATCH:
                    pass  # a full batch: more is waiting
            except asyncio.CancelledError:
                raise
            except Problem as exc:
                log.warning("Tryton poll failed: %s", exc.detail)
            except Exception:
                log.exception("Tryton poll failed")
            await asyncio.sleep(self.settings.poll_seconds)

    async def poll_once(self, now: datetime | None = None) -> int:
        """Read one batch and announce what is new; returns how many moves it read."""
        places = await self.erp.places()
        async with self.db.transaction() as session:
            mark = await session.get(WatermarkRow, WATERMARK, with_for_update=True)
            since = mark.write_date - timedelta(seconds=self.settings.poll_overlap_seconds) if mark else None
            where: list[Any] = [("state", "=", "done"), _touching(places)]
            if since is not None:
                where.append(("write_date", ">=", since))
            moves = await self.erp.find(
                "stock.move", where, FIELDS, limit=BATCH, order=[("write_date", "ASC"), ("id", "ASC")]
            )
            clock = now or datetime.now(UTC).replace(tzinfo=None)  # Tryton's write_date is naive UTC
            young = timedelta(seconds=self.settings.adopt_after_seconds)
            for move in moves:
                if move["create_uid"] == self.erp.uid and clock - move["write_date"] < young:
                    break  # ours and recent: its request is still on it; look again next poll
                await self._announce(session, move, places)
                if mark is None:
                    mark = WatermarkRow(name=WATERMARK, write_date=move["write_date"], tryton_id=move["id"])
                    session.add(mark)
                elif (move["write_date"], move["id"]) > (mark.write_date, mark.tryton_id):
                    mark.write_date, mark.tryton_id = move["write_date"], move["id"]
            return len(moves)

    async def _announce(self, session: Any, move: dict[str, Any], places: mapping.Places) -> None:
        erp = self.erp
        if not move.get("lot."):
            if await erp._bound_record(session, "ignored", "stock.move", move["id"]) is None:
                log.warning(
                    "Tryton move %s has no lot: not announced (make the item lot-required)", move["id"]
                )
                from system_apis.erp.backends.tryton.store import BindingRow

                session.add(
                    BindingRow(
                        id=f"IGN-{move['id']}",
                        kind="ignored",
                        model="stock.move",
                        tryton_id=move["id"],
                        lot_id="",
                        type="",
                        view=b"{}",
                    )
                )
            return
        source = places.keys.get(move["from_location"])
        if source is None:  # into a mapped location from outside: a receipt
            if await erp._bound_record(session, "receipt", "stock.move", move["id"]) is not None:
                return
            purchase = await erp._purchase_of_line(move.get("origin"))
            order = None
            if move.get("production_output"):
                [production] = await erp.find(
                    "production", [("id", "=", move["production_output"])], ["number"]
                )
                order = production["number"]
            await erp._record_receipt(session, None, move, None, purchase, places, production_order=order)
            return
        if await erp._bound_record(session, "txn", "stock.move", move["id"]) is not None:
            return
        target_type = places.types.get(move["to_location"], "")
        kind = mapping.movement_type(source, places.keys.get(move["to_location"]), target_type)
        if kind is None:
            return
        await erp._movement_from(session, None, move, places, None)


def _touching(places: mapping.Places) -> list[Any]:
    mapped = list(places.keys)
    return ["OR", ("from_location", "in", mapped), ("to_location", "in", mapped)]
