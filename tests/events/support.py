"""Shared pieces of the event-backbone tests: a test-only effect table, events, waiting."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.erp import GoodsReceiptPosted
from contracts.kit import correlation, outbox
from contracts.kit.consumer import Consumer
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, encode
from contracts.kit.relay import FIELD_EVENT, FIELD_ID, FIELD_TYPE
from contracts.kit.tables import metadata as kit_metadata

RECEIPT = "erp.goods_receipt.posted.v1"

# The "effect" a consumer applies. No unique key on event_id: a double apply shows as two rows.
test_metadata = MetaData()
effects = Table(
    "test_effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("lot_id", String(64), nullable=False),
)


async def prepare(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)


def receipt(lot_id: str = "LOT-1", **overrides: object) -> GoodsReceiptPosted:
    values: dict[str, object] = {
        "receipt_id": f"GR-{lot_id}",
        "source": "purchase",
        "item_id": "RM-1",
        "lot_id": lot_id,
        "quantity": 5.0,
        "location": "WH1",
        "stock_status": "QUALITY_INSPECTION",
        "inspection_required": True,
    }
    values.update(overrides)
    return GoodsReceiptPosted(**values)  # type: ignore[arg-type]


def make_event(lot_id: str = "LOT-1", correlation_id: str = "") -> CloudEvent:
    with correlation.bound(correlation_id):
        return outbox.envelope("erp", f"GR-{lot_id}", receipt(lot_id))


async def put(redis: Redis, stream: str, event: CloudEvent, entry_id: str = "*") -> str:
    """XADD an event the way the relay does (`entry_id` backdates it)."""
    fields = {FIELD_ID: event.id, FIELD_TYPE: event.type, FIELD_EVENT: encode(event)}
    entry = await redis.xadd(stream, fields, id=entry_id)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


async def record(event: CloudEvent, session: AsyncSession) -> None:
    """The test handler: write one effect row carrying the correlation the handler runs under."""
    await session.execute(
        insert(effects).values(
            event_id=event.id, correlation_id=correlation.current().correlation_id, lot_id=event.data.lot_id
        )
    )


async def effect_count(db: Database, event_id: str | None = None) -> int:
    query = select(func.count()).select_from(effects)
    if event_id is not None:
        query = query.where(effects.c.event_id == event_id)
    async with db.sessions() as session:
        return int(await session.scalar(query) or 0)


async def drain(consumer: Consumer) -> None:
    """Poll until the consumer finds nothing more to read."""
    while await consumer.poll(block_ms=50):
        pass
