"""A flow started by an event that stalls is also a dead letter of that event; replaying the
letter (the operator's one way to retry what the backbone could not finish) runs the flow again
from the step that failed. Real Redis, real database, the kernel's consumer and operations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.erp import GoodsReceiptPosted
from contracts.kit import flows, operations, outbox
from contracts.kit.consumer import Consumer
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, encode
from contracts.kit.flows import FlowRunner, FlowStatus, FlowType, Step, StepFailed
from contracts.kit.flows.engine import withdraw_dead_letter
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.flows.store import timeline
from contracts.kit.relay import FIELD_EVENT, FIELD_ID, FIELD_TYPE
from plantbridge.processes import RedisServer
from tests.flows.test_flow_engine import Upstream

RECEIPT = "erp.goods_receipt.posted.v1"


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, socket_timeout=5)
    yield client
    await client.aclose()


async def book(ctx: flows.FlowContext[Upstream]) -> dict[str, Any]:
    if ctx.deps.failures:
        raise StepFailed(str(ctx.deps.failures.pop(0)))
    return {"number": await ctx.deps.post(ctx.idempotency_key)}


BOOKING = FlowType("booking", "test", (Step("book", book),))


@pytest.fixture
async def bookings(db: Database, redis: Redis) -> tuple[str, Consumer]:
    """A consumer group on a stream of its own whose handler starts a booking flow per receipt."""
    stream = f"test.flows.{uuid.uuid4().hex[:8]}"
    consumer = Consumer(db=db, redis=redis, group="booking")

    async def on_receipt(event: CloudEvent, session: AsyncSession) -> None:
        await flows.start(session, BOOKING, {"lot_id": event.data.lot_id}, keys={}, trigger=event.id)

    consumer.on(RECEIPT, on_receipt, stream=stream)
    await consumer.ensure_groups()
    return stream, consumer


async def publish_receipt(redis: Redis, stream: str, lot_id: str) -> CloudEvent:
    receipt = GoodsReceiptPosted(
        receipt_id=f"GR-{lot_id}", source="purchase", item_id="RM-1", lot_id=lot_id, quantity=1.0,
        location="WH1", stock_status="QUALITY_INSPECTION", inspection_required=True,
    )  # fmt: skip
    event = outbox.envelope("erp", f"GR-{lot_id}", receipt)
    await redis.xadd(stream, {FIELD_ID: event.id, FIELD_TYPE: event.type, FIELD_EVENT: encode(event)})
    return event


async def flow_of(db: Database, trigger: str) -> Any:
    async with db.sessions() as session:
        return (await session.execute(select(flow_table).where(flow_table.c.trigger == trigger))).one()


async def test_a_stalled_flow_is_dead_lettered_and_its_replay_runs_it_again(
    db: Database, redis: Redis, bookings: tuple[str, Consumer]
) -> None:
    stream, consumer = bookings
    upstream = Upstream(failures=[RuntimeError("lot LOT-9 is on hold")])
    runner = FlowRunner(db, [BOOKING], upstream, source="/test", base_backoff=0, redis=redis)
    event = await publish_receipt(redis, stream, "LOT-9")
    assert await consumer.poll(block_ms=100) == 1

    flow = await flow_of(db, event.id)
    assert await runner.run_flow(flow.id) is FlowStatus.STALLED

    [letter] = (await operations.dead_letters(redis, stream)).items
    assert (letter.event_id, letter.group, letter.stream) == (event.id, "booking", stream)
    assert f"flow {flow.id} stalled at book" in letter.error
    assert "LOT-9 is on hold" in letter.error

    # The cause is fixed; the operator replays the letter, as for any other.
    assert await operations.replay(redis, stream, letter.dead_letter_id) is not None
    assert await consumer.poll(block_ms=100) == 1
    assert consumer.stats.duplicates == 0  # the stall made the event count as unfinished
    assert (await flow_of(db, event.id)).status == FlowStatus.RUNNING
    assert await runner.run_flow(flow.id) is FlowStatus.COMPLETED

    assert (await operations.dead_letters(redis, stream)).items == []
    assert upstream.posted == {f"{flow.id}:book": 1}
    async with db.sessions() as session:
        kinds = (
            await session.scalars(
                select(timeline.c.kind).where(timeline.c.flow_id == flow.id).order_by(timeline.c.seq)
            )
        ).all()
    assert kinds == ["started", "stalled", "retried", "step_done", "completed"]


async def test_flows_started_without_an_event_stall_without_a_letter(db: Database, redis: Redis) -> None:
    runner = FlowRunner(db, [BOOKING], Upstream(failures=[RuntimeError("no")]), source="/test", redis=redis)
    async with db.transaction() as session:
        flow_id = await flows.start(session, BOOKING, {}, keys={}, trigger="api-call-1")
    before = await redis.keys("*.dlq")
    assert await runner.run_flow(flow_id) is FlowStatus.STALLED
    assert await redis.keys("*.dlq") == before


async def test_a_retry_through_the_flow_api_withdraws_the_letter(
    db: Database, redis: Redis, bookings: tuple[str, Consumer]
) -> None:
    """What the flow API's retry and cancel do, so the dead-letter monitor shows no settled letter."""
    stream, consumer = bookings
    runner = FlowRunner(db, [BOOKING], Upstream(failures=[RuntimeError("held")]), source="/test", redis=redis)
    event = await publish_receipt(redis, stream, "LOT-8")
    await consumer.poll(block_ms=100)
    flow = await flow_of(db, event.id)
    assert await runner.run_flow(flow.id) is FlowStatus.STALLED
    [letter] = (await operations.dead_letters(redis, stream)).items

    stalled = await flow_of(db, event.id)
    assert stalled.trigger_delivery["dead_letter_id"] == letter.dead_letter_id
    await withdraw_dead_letter(redis, stalled.trigger_delivery)
    assert (await operations.dead_letters(redis, stream)).items == []
