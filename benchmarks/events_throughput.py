"""Events per second through the whole backbone, next to a raw Redis Streams loop.

    python benchmarks/events_throughput.py [--events 20000] [--producer-db URL] [--consumer-db URL]

Backbone: use cases stage events with `outbox.publish` (transactions of `--per-commit` events)
→ OutboxRelay XADDs them → Consumer reads them in a group, applies an idempotent effect and
its inbox row in one transaction → XACK. Raw: pipelined XADD by 100 and XREADGROUP by 100 with
one XACK per batch, same payloads, same Redis, same run. Both run producer and consumer in
one process and event loop, overlapped. Each round times raw then backbone back to back; the
ratio is the median of the rounds' ratios, since this shared machine's disk and CPU drift between
rounds more than between two neighbouring runs. CPU is this process's (not Redis's) per event.
Not a test: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.erp import GoodsReceiptPosted
from contracts.kit import outbox
from contracts.kit.consumer import Consumer
from contracts.kit.consumer import running as consumers_running
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, encode
from contracts.kit.relay import OutboxRelay
from contracts.kit.relay import running as relay_running
from contracts.kit.tables import metadata as kit_metadata
from plantbridge.processes import RedisServer

REPOSITORY = Path(__file__).resolve().parents[1]
effect_metadata = MetaData()
effects = Table(
    "bench_effects",
    effect_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("lot_id", String(64), nullable=False),
)


def receipt(n: int) -> GoodsReceiptPosted:
    return GoodsReceiptPosted(
        receipt_id=f"GR-{n}",
        source="purchase",
        item_id="RM-STEEL-42",
        lot_id=f"LOT-{n}",
        quantity=12.5,
        location="WH1",
        stock_status="QUALITY_INSPECTION",
        inspection_required=True,
        po_id="PO-1",
        line_no=1,
        supplier_id="SUP-ACME",
    )


async def raw_loop(redis: Redis, events: int) -> tuple[float, float]:
    """Events per second, and this process's CPU seconds per event."""
    stream, group = "bench.raw", "raw"
    await redis.delete(stream)
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    payloads = [encode(outbox.envelope("erp", f"GR-{n}", receipt(n))) for n in range(events)]

    async def produce() -> None:
        for start in range(0, events, 100):
            pipe = redis.pipeline(transaction=False)
            for n in range(start, min(events, start + 100)):
                pipe.xadd(stream, {"id": str(n), "type": "erp.goods_receipt.posted.v1", "event": payloads[n]})
            await pipe.execute()

    async def consume() -> None:
        seen = 0
        while seen < events:
            reply: Any = await redis.xreadgroup(group, "c", {stream: ">"}, count=100, block=1000)
            for _, entries in reply or []:
                await redis.xack(stream, group, *[entry_id for entry_id, _ in entries])
                seen += len(entries)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(produce(), consume())
    return events / (time.perf_counter() - started), (time.process_time() - cpu) / events


async def backbone(
    redis: Redis, producer: Database, consumer_db: Database, events: int, per_commit: int
) -> tuple[float, float]:
    """Events per second, and this process's CPU seconds per event."""
    add_effect = insert(effects)

    async def apply(event: CloudEvent, session: AsyncSession) -> None:
        await session.execute(add_effect, {"event_id": event.id, "lot_id": event.data.lot_id})

    consumer = Consumer(db=consumer_db, redis=redis, group="bench", batch_size=100)
    consumer.on("erp.goods_receipt.posted.v1", apply)
    await consumer.ensure_groups()

    async def produce() -> None:
        for start in range(0, events, per_commit):
            async with producer.transaction() as session:
                for n in range(start, min(events, start + per_commit)):
                    await outbox.publish(session, "erp", f"GR-{n}", receipt(n))

    async def applied() -> int:
        async with consumer_db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(effects)) or 0)

    started, cpu = time.perf_counter(), time.process_time()
    relay = OutboxRelay(producer, redis)
    async with relay_running(relay), consumers_running(consumer):
        await produce()
        deadline = time.monotonic() + 600
        # Polling a counter is the point here: this loop only watches.
        while consumer.stats.applied + consumer.stats.duplicates < events:
            if time.monotonic() > deadline:
                raise RuntimeError(f"stalled: relay published {relay.published}, consumer {consumer.stats}")
            await asyncio.sleep(0.005)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert await applied() == events, f"every event applied exactly once ({consumer.stats})"
    return events / elapsed, cpu / events


async def stages(
    redis: Redis, producer: Database, consumer_db: Database, events: int, per_commit: int
) -> str:
    """The same work one stage at a time, to see where the time goes."""
    add_effect = insert(effects)

    async def apply(event: CloudEvent, session: AsyncSession) -> None:
        await session.execute(add_effect, {"event_id": event.id, "lot_id": event.data.lot_id})

    consumer = Consumer(db=consumer_db, redis=redis, group="stages", batch_size=100)
    consumer.on("erp.goods_receipt.posted.v1", apply)
    await consumer.ensure_groups()
    relay = OutboxRelay(producer, redis)
    rates = []
    started = time.perf_counter()
    for start in range(0, events, per_commit):
        async with producer.transaction() as session:
            for n in range(start, min(events, start + per_commit)):
                await outbox.publish(session, "erp", f"GR-{n}", receipt(n))
    rates.append(events / (time.perf_counter() - started))
    started = time.perf_counter()
    while await relay.publish_pending():
        pass
    rates.append(events / (time.perf_counter() - started))
    started = time.perf_counter()
    while await consumer.poll(block_ms=10):
        pass
    rates.append(events / (time.perf_counter() - started))
    return "producer (outbox inserts) {:,.0f}/s, relay {:,.0f}/s, consumer (inbox + effect) {:,.0f}/s".format(
        *rates
    )


async def prepare(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(kit_metadata.create_all)
        await conn.run_sync(effect_metadata.create_all)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-commit", type=int, default=10, help="events staged per producer transaction")
    parser.add_argument(
        "--producer-db", default=None, help="SQLAlchemy async URL (default: a temp SQLite file)"
    )
    parser.add_argument(
        "--consumer-db", default=None, help="SQLAlchemy async URL (default: a temp SQLite file)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs of each")
    parser.add_argument("--stages", action="store_true", help="also time each stage on its own")
    parser.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL for both databases"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pb-bench-"))
    postgres = None
    if args.postgres:
        sys.path.insert(0, str(REPOSITORY))  # for tests.support
        from tests.support.postgres import PostgresServer

        postgres = PostgresServer().start()
    server = RedisServer(work / "redis").start()
    redis = Redis.from_url(server.url, socket_timeout=10)
    raw: list[float] = []
    raw_cpu: list[float] = []
    breakdown = ""
    ours: list[float] = []
    cpu: list[float] = []
    try:
        for round_no in range(args.rounds):
            rate, cpu_per_event = await raw_loop(redis, args.events)
            raw.append(rate)
            raw_cpu.append(cpu_per_event)
            producer = Database(_url(args.producer_db, postgres, work, f"producer_{round_no}"))
            consumer = Database(_url(args.consumer_db, postgres, work, f"consumer_{round_no}"))
            await prepare(producer)
            await prepare(consumer)
            await redis.delete("events.erp")
            rate, cpu_per_event = await backbone(redis, producer, consumer, args.events, args.per_commit)
            ours.append(rate)
            cpu.append(cpu_per_event)
            await producer.dispose()
            await consumer.dispose()
        if args.stages:
            producer = Database(_url(args.producer_db, postgres, work, "producer_stages"))
            consumer = Database(_url(args.consumer_db, postgres, work, "consumer_stages"))
            await prepare(producer)
            await prepare(consumer)
            await redis.delete("events.erp")
            breakdown = await stages(redis, producer, consumer, args.events, args.per_commit)
            await producer.dispose()
            await consumer.dispose()
    finally:
        await redis.aclose()
        server.stop()
        if postgres is not None:
            postgres.stop()

    raw_rate, our_rate = statistics.median(raw), statistics.median(ours)
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    backend = "postgresql" if args.postgres else (args.producer_db or "sqlite").split(":")[0]
    print(
        f"events per run:                          {args.events}  ({args.per_commit} per commit, {backend})"
    )
    print(f"raw pipelined XADD/XREADGROUP/XACK:      {raw_rate:>10,.0f} events/s  (runs: {_rates(raw)})")
    print(f"outbox → relay → stream → consumer+inbox: {our_rate:>9,.0f} events/s  (runs: {_rates(ours)})")
    print(
        f"backbone CPU (this process) per event:   {statistics.median(cpu) * 1e6:>10,.0f} µs  "
        f"(runs: {', '.join(f'{c * 1e6:,.0f}' for c in cpu)})"
    )
    print(
        f"raw loop CPU (this process) per event:   {statistics.median(raw_cpu) * 1e6:>10,.0f} µs  "
        f"(backbone / raw CPU {statistics.median(c / r for c, r in zip(cpu, raw_cpu, strict=True)):.1f}x; "
        "steadier than the ratio below, whose raw side waits on Redis's fsync)"
    )
    if breakdown:
        print(f"stages one at a time: {breakdown}")
    print(
        f"ratio backbone / raw:                    {statistics.median(ratios):>10.2f}  "
        f"(target ≥ 0.2; rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def _url(given: str | None, postgres: object, work: Path, name: str) -> str:
    if given:
        return given
    if postgres is not None:
        return str(postgres.new_database(name))  # type: ignore[attr-defined]
    return f"sqlite+aiosqlite:///{work}/{name}.db"


def _rates(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main())
