"""Changes in: what people do in Tryton itself becomes our canonical events.

Every `poll_seconds` the poller reads the done stock moves that touch a mapped location after
its watermark (write_date, id), in that order, and turns each one no record of ours claims yet
into our events: a receipt from a supplier or from production (`erp.goods_receipt.posted.v1`
with its transaction and status change), a movement between or out of mapped locations
(`erp.inventory_txn.posted.v1`, `erp.stock.status_changed.v1`). The events, the bindings and the
new watermark are written in one local transaction: after a crash it resumes from the watermark,
and a move read twice is bound already and announced once.

Two things can hide a change behind the watermark, and a look-back over the last
`poll_overlap_seconds` before it finds both: a Tryton transaction that started earlier than one
already read commits later with an older write_date; and a move the connector's own Tryton user
did last, which the poller leaves to the request that did it for `adopt_after_seconds` (after
that the request died and nobody retried: the poller announces it).

Tryton is read outside any local transaction; the local one that records a batch makes no
network call, so it holds the database (SQLite's single writer) for milliseconds.

A new connector starts from Tryton's latest done move: history before it is not announced.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from contracts.kit.db import Database
from contracts.kit.problems import Problem
from contracts.models import erp as m
from system_apis.erp.backends.tryton import mapping
from system_apis.erp.backends.tryton.store import BindingRow, WatermarkRow

if TYPE_CHECKING:
    from system_apis.erp.backends.tryton.backend import TrytonErp

log = logging.getLogger("plantbridge.erp.tryton.poller")
WATERMARK = "stock.move"
BATCH = 200
# Bindings are made after their move is done: ones older than the look-back plus this slack
# (for a Tryton clock running behind ours) cannot belong to a move inside the look-back.
CLOCK_SLACK = timedelta(minutes=5)
FIELDS = ["from_location", "to_location", "internal_quantity", "state", "lot.number", "product.code"]
FIELDS += ["write_date", "create_date", "write_uid", "origin", "production_output"]


@dataclass
class Facts:
    """What announcing one move needs from Tryton, read before the local transaction."""

    item: m.Item
    purchase: dict[str, Any]
    production_order: str | None


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

    async def poll_once(self) -> int:
        """Announce what is new after the watermark (and what the look-back finds); returns how
        many moves the forward read returned (BATCH: call again)."""
        places = await self.erp.places()
        async with self.db.transaction() as session:
            mark = await session.get(WatermarkRow, WATERMARK)
            start = (mark.write_date, mark.tryton_id) if mark else None
            recent = list(
                await session.scalars(
                    select(BindingRow.tryton_id).where(
                        BindingRow.model == "stock.move",
                        BindingRow.created_at
                        >= datetime.now(UTC)
                        - timedelta(seconds=self.settings.poll_overlap_seconds)
                        - CLOCK_SLACK,
                    )
                )
            )
        if start is None:
            await self._begin(places)
            return 0
        touching = places.touching()
        forward = await self.erp.find(
            "stock.move",
            [
                ("state", "=", "done"),
                touching,
                ["OR", ("write_date", ">", start[0]), [("write_date", "=", start[0]), ("id", ">", start[1])]],
            ],
            FIELDS,
            limit=BATCH,
            order=[("write_date", "ASC"), ("id", "ASC")],
        )
        behind = await self.erp.find(
            "stock.move",
            [
                ("state", "=", "done"),
                touching,
                ("write_date", ">=", start[0] - timedelta(seconds=self.settings.poll_overlap_seconds)),
                ("write_date", "<=", start[0]),
                ("id", "not in", recent),
            ],
            FIELDS,
            order=[("write_date", "ASC"), ("id", "ASC")],
        )
        clock = datetime.now(UTC).replace(tzinfo=None)  # Tryton's write_date is naive UTC
        young = timedelta(seconds=self.settings.adopt_after_seconds)
        due = [
            move
            for move in [*behind, *forward]
            if move["id"] not in recent
            and not (move["write_uid"] == self.erp.uid and clock - move["write_date"] < young)
        ]
        facts = {move["id"]: await self._facts(move) for move in due}
        async with self.db.transaction() as session:
            mark = await session.get(WatermarkRow, WATERMARK, with_for_update=True)
            assert mark is not None
            for move in due:
                await self._announce(session, move, facts[move["id"]], places)
            if forward:
                mark.write_date, mark.tryton_id = forward[-1]["write_date"], forward[-1]["id"]
        return len(forward)

    async def _begin(self, places: mapping.Places) -> None:
        latest = await self.erp.find(
            "stock.move",
            [("state", "=", "done"), places.touching()],
            ["write_date"],
            limit=1,
            order=[("write_date", "DESC"), ("id", "DESC")],
        )
        stamp, last = (latest[0]["write_date"], latest[0]["id"]) if latest else (datetime(2000, 1, 1), 0)
        async with self.db.transaction() as session:
            if await session.get(WatermarkRow, WATERMARK) is None:
                session.add(WatermarkRow(name=WATERMARK, write_date=stamp, tryton_id=last))
        log.info("Tryton changes are announced from %s on", stamp.isoformat())

    async def _facts(self, move: dict[str, Any]) -> Facts | None:
        if not move.get("lot."):
            return None
        item = await self.erp.item(move["product."]["code"])
        purchase = await self.erp.purchase_of_line(move.get("origin"))
        order = None
        if move.get("production_output"):
            [production] = await self.erp.find(
                "production", [("id", "=", move["production_output"])], ["number"]
            )
            order = production["number"]
        return Facts(item, purchase, order)

    async def _announce(
        self, session: Any, move: dict[str, Any], facts: Facts | None, places: mapping.Places
    ) -> None:
        erp = self.erp
        if facts is None:
            if await erp.bound_record(session, "ignored", "stock.move", move["id"]) is not None:
                return
            log.warning("Tryton move %s has no lot: not announced (make the item lot-required)", move["id"])
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
        origin = str(move.get("origin") or "")
        if origin.startswith("stock.move,"):  # a compensating move: its origin is the move it reverses
            reversed_row = await erp.bound_record(session, "txn", "stock.move", int(origin.split(",")[1]))
            if reversed_row is not None:
                await erp.record_reversal(session, None, move, reversed_row, None)
                return
        if places.keys.get(move["from_location"]) is None:  # into a mapped location from outside
            await erp.record_receipt(
                session,
                None,
                move,
                None,
                facts.purchase,
                places,
                facts.item,
                production_order=facts.production_order,
            )
            return
        kind = mapping.movement_type(
            places.keys[move["from_location"]],
            places.keys.get(move["to_location"]),
            places.types.get(move["to_location"], ""),
        )
        if kind is not None:
            await erp.record_movement(session, None, move, places, None)
