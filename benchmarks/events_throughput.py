"""Events per second through the whole backbone, next to a raw Redis Streams loop.

    python benchmarks/events_throughput.py [--events 20000] [--rounds 3] [--producer-db URL]
        [--consumer-db URL] [--postgres] [--stages]

Backbone: events staged in the producer's transactions (`--per-commit` to each) → OutboxRelay
XADDs them → Consumer reads them in a group, applies an idempotent effect (one row per event)
and its inbox rows in one transaction → XACK. The producer and the effect use the kernel's Core
paths, as the flow engine's steps stage events (`outbox.stage` inside `Database.run`) and the
webhooks fan-out applies them (a `Consumer.on_batch` handler on the batch's connection). The
one-process block also prints the same backbone through sessions, as use cases and flow starts
use it (`outbox.publish` in `Database.transaction()`; a `Consumer.on` handler with the
`AsyncSession`). Raw: pipelined XADD by 100 and XREADGROUP by 100 with one XACK per batch, same
payloads, same Redis, same run. Each is measured in two topologies:

- One process (the first block printed): producer and consumer in this process and event loop,
  overlapped. CPU is this process's (not Redis's) per event.
- Two processes, as deployed (the second block): the producing service's relay runs in the
  producing service's process and the consumer group in the consuming service's, each with its
  own database. Here this process produces (and runs the relay), and a child process (this
  script again, with a hidden `--role`) consumes from the same Redis into its own database.
  The raw loop is split the same way: XADD pipelines here, and in the child the best raw
  consumer we could write (each XACK pipelined with the next XREADGROUP: one round trip a
  batch). The child sets up, creates its group and says it is ready; the clock starts at this
  process's first event and stops at the child's `time.time()` when its last event is applied
  (backbone) or acknowledged (raw). CPU is both processes' (not Redis's), from this process's
  first event to the child's report, summed and each on its own.

Each round times raw-1p, backbone-1p and backbone-1p through sessions (which of the two first
alternates between rounds), raw-2p, backbone-2p back to back; each ratio is the median of the
rounds' ratios, since this shared machine's disk and CPU drift between rounds more than between
two neighbouring runs. Every run checks that each event was applied exactly once (effect rows,
their distinct event ids and inbox rows all equal `--events`; nothing pending in Redis; every
outbox row published). Not a test: it prints numbers and the load average; it asserts nothing
else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, distinct, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events.erp import GoodsReceiptPosted
from contracts.kit import outbox
from contracts.kit.consumer import Consumer
from contracts.kit.consumer import running as consumers_running
from contracts.kit.db import Database
from contracts.kit.envelope import CloudEvent, encode
from contracts.kit.relay import OutboxRelay
from contracts.kit.relay import running as relay_running
from contracts.kit.tables import inbox
from contracts.kit.tables import metadata as kit_metadata
from contracts.kit.tables import outbox as outbox_table
from plantbridge.processes import RedisServer

SCRIPT = Path(__file__).resolve()
REPOSITORY = SCRIPT.parents[1]
RAW_STREAM, RAW_GROUP = "bench.raw", "raw"
RECEIPT = "erp.goods_receipt.posted.v1"
BACKBONE_STREAM, BACKBONE_GROUP = "events.erp", "bench"
STALLED_AFTER = 600.0  # seconds
effect_metadata = MetaData()
effects = Table(
    "bench_effects",
    effect_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("lot_id", String(64), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run: events per second and CPU seconds per event in each process."""

    rate: float
    producer_cpu: float  # this process (in the one-process topology: everything)
    consumer_cpu: float = 0.0  # the child process (two processes only)

    @property
    def cpu(self) -> float:
        return self.producer_cpu + self.consumer_cpu


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


async def raw_stream(redis: Redis, events: int) -> list[bytes]:
    """A fresh raw stream and group; the payloads to send, encoded beforehand."""
    await redis.delete(RAW_STREAM)
    await redis.xgroup_create(RAW_STREAM, RAW_GROUP, id="0", mkstream=True)
    return [encode(outbox.envelope("erp", f"GR-{n}", receipt(n))) for n in range(events)]


async def raw_produce(redis: Redis, payloads: list[bytes]) -> None:
    events = len(payloads)
    for start in range(0, events, 100):
        pipe = redis.pipeline(transaction=False)
        for n in range(start, min(events, start + 100)):
            pipe.xadd(RAW_STREAM, {"id": str(n), "type": RECEIPT, "event": payloads[n]})
        await pipe.execute()


async def raw_settled(redis: Redis) -> None:
    pending: Any = await redis.xpending(RAW_STREAM, RAW_GROUP)
    assert pending["pending"] == 0, f"raw: {pending['pending']} messages left unacknowledged"


async def raw_loop(redis: Redis, events: int) -> tuple[float, float]:
    """Events per second, and this process's CPU seconds per event."""
    payloads = await raw_stream(redis, events)

    async def consume() -> None:
        seen = 0
        while seen < events:
            reply: Any = await redis.xreadgroup(RAW_GROUP, "c", {RAW_STREAM: ">"}, count=100, block=1000)
            for _, entries in reply or []:
                await redis.xack(RAW_STREAM, RAW_GROUP, *[entry_id for entry_id, _ in entries])
                seen += len(entries)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(raw_produce(redis, payloads), consume())
    rate, cpu = events / (time.perf_counter() - started), (time.process_time() - cpu) / events
    await raw_settled(redis)
    return rate, cpu


async def raw_consume_pipelined(redis: Redis, events: int) -> int:
    """The raw consumer of the two-process topology: each XACK rides with the next XREADGROUP."""
    seen, acks = 0, list[Any]()
    while seen < events:
        pipe = redis.pipeline(transaction=False)
        if acks:
            pipe.xack(RAW_STREAM, RAW_GROUP, *acks)
        pipe.xreadgroup(RAW_GROUP, "c", {RAW_STREAM: ">"}, count=100, block=1000)
        reply: Any = (await pipe.execute())[-1]
        acks = [entry_id for _, entries in reply or [] for entry_id, _ in entries]
        seen += len(acks)
    await redis.xack(RAW_STREAM, RAW_GROUP, *acks)
    return seen


def bench_consumer(
    db: Database, redis: Redis, group: str = BACKBONE_GROUP, *, sessions: bool = False
) -> Consumer:
    """The consumer group every mode runs: one effect row per event, written with one statement
    per batch on its connection, or (`sessions`) one per event through the handler's session."""
    add_effect = insert(effects)

    def apply_batch(events: Sequence[CloudEvent], conn: Connection) -> None:
        conn.execute(add_effect, [{"event_id": e.id, "lot_id": e.data.lot_id} for e in events])

    async def apply(event: CloudEvent, session: AsyncSession) -> None:
        await session.execute(add_effect, {"event_id": event.id, "lot_id": event.data.lot_id})

    consumer = Consumer(db=db, redis=redis, group=group, batch_size=100)
    if sessions:
        consumer.on(RECEIPT, apply)
    else:
        consumer.on_batch(RECEIPT, apply_batch)
    return consumer


def handled(consumer: Consumer) -> int:
    """Events the consumer has done with: applied, or found in its inbox already."""
    return consumer.stats.applied + consumer.stats.duplicates


async def produce(producer: Database, events: int, per_commit: int, *, sessions: bool = False) -> None:
    """Events staged `per_commit` to a transaction: on its Core connection, or (`sessions`) on
    a use case's session."""
    for start in range(0, events, per_commit):
        numbers = range(start, min(events, start + per_commit))
        if sessions:
            async with producer.transaction() as session:
                for n in numbers:
                    await outbox.publish(session, "erp", f"GR-{n}", receipt(n))
            continue
        staged = [outbox.envelope("erp", f"GR-{n}", receipt(n)) for n in numbers]
        await producer.run(partial(outbox.stage, events=staged))
        # A producer yields between transactions, as `Database.transaction()` does and a
        # service's requests do: else it runs to the end before the relay and consumer start.
        await asyncio.sleep(0)


async def until(done: Callable[[], bool], stalled: Callable[[], str]) -> None:
    deadline = time.monotonic() + STALLED_AFTER
    # Polling a counter is the point here: this loop only watches.
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"stalled: {stalled()}")
        await asyncio.sleep(0.005)


async def applied_counts(db: Database) -> dict[str, int]:
    """What the consumer's database holds: effect rows, their distinct event ids, inbox rows."""
    async with db.sessions() as session:
        rows = (await session.execute(select(func.count(), func.count(distinct(effects.c.event_id))))).one()
        seen = await session.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.consumer == BACKBONE_GROUP)
        )
    return {"effects": int(rows[0]), "distinct": int(rows[1]), "inbox": int(seen or 0)}


async def check_exactly_once(redis: Redis, producer: Database, counts: dict[str, int], events: int) -> None:
    expected = {"effects": events, "distinct": events, "inbox": events}
    assert counts == expected, f"every event applied exactly once: {counts}, expected {expected}"
    pending: Any = await redis.xpending(BACKBONE_STREAM, BACKBONE_GROUP)
    assert pending["pending"] == 0, f"backbone: {pending['pending']} messages left unacknowledged"
    async with producer.sessions() as session:
        unpublished = await session.scalar(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        )
    assert unpublished == 0, f"{unpublished} outbox rows never marked published"


async def backbone(
    redis: Redis, producer: Database, consumer_db: Database, events: int, per_commit: int, *, sessions: bool
) -> tuple[float, float]:
    """Events per second, and this process's CPU seconds per event."""
    consumer = bench_consumer(consumer_db, redis, sessions=sessions)
    await consumer.ensure_groups()
    started, cpu = time.perf_counter(), time.process_time()
    relay = OutboxRelay(producer, redis)
    async with relay_running(relay), consumers_running(consumer):
        await produce(producer, events, per_commit, sessions=sessions)
        await until(
            lambda: handled(consumer) >= events,
            lambda: f"relay published {relay.published}, consumer {consumer.stats}",
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await check_exactly_once(redis, producer, await applied_counts(consumer_db), events)
    return events / elapsed, cpu / events


# --- two processes, as deployed ------------------------------------------------------------
# The child speaks JSON lines on stdout: {"ready": true} once set up, then its report. Its stdin
# stays open while this process wants it: end of file means this process is gone (or done), so
# a child never outlives a killed parent.


@contextlib.asynccontextmanager
async def consumer_process(role: str, redis_url: str, events: int, db_url: str = "") -> AsyncIterator[Child]:
    """A child consuming `events` in its own process and event loop, ready to read when entered."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--role",
        role,
        "--redis-url",
        redis_url,
        "--consumer-db",
        db_url,
        "--events",
        str(events),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPOSITORY,
    )
    child = Child(process)
    finished = False
    try:
        await child.read()  # {"ready": true}
        yield child
        finished = True
    finally:
        if process.returncode is None and finished:
            assert process.stdin is not None
            process.stdin.close()  # the child's cue to clean up and exit
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)
        if process.returncode is None:
            process.kill()
        code = await process.wait()
    if code != 0:
        raise RuntimeError(f"the {role} consumer process exited with {code}")


@dataclass(slots=True)
class Child:
    process: asyncio.subprocess.Process

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), STALLED_AFTER)
        if not line:
            raise RuntimeError(f"the consumer process exited with {await self.process.wait()}")
        message: dict[str, Any] = json.loads(line)
        return message


async def raw_two_processes(redis: Redis, redis_url: str, events: int) -> Run:
    payloads = await raw_stream(redis, events)
    async with consumer_process("raw", redis_url, events) as child:
        started, cpu = time.time(), time.process_time()
        await raw_produce(redis, payloads)
        report = await child.read()
        cpu = time.process_time() - cpu
    assert report["seen"] == events, f"raw: the consumer saw {report['seen']} of {events}"
    await raw_settled(redis)
    return Run(events / (report["done_at"] - started), cpu / events, report["cpu"] / events)


async def backbone_two_processes(
    redis: Redis, redis_url: str, producer: Database, consumer_url: str, events: int, per_commit: int
) -> Run:
    async with consumer_process("backbone", redis_url, events, consumer_url) as child:
        started, cpu = time.time(), time.process_time()
        relay = OutboxRelay(producer, redis)
        async with relay_running(relay):
            await produce(producer, events, per_commit)
            report = await child.read()
            cpu = time.process_time() - cpu
    await check_exactly_once(redis, producer, report["counts"], events)
    return Run(events / (report["done_at"] - started), cpu / events, report["cpu"] / events)


async def consumer_child(role: str, redis_url: str, db_url: str, events: int) -> None:
    """The child's side: set up, say ready, consume `events`, report when and at what CPU."""
    finished = threading.Event()

    def orphaned() -> None:
        while os.read(0, 4096):  # unbuffered: a buffered read would hold a lock at our exit
            pass
        if not finished.is_set():
            os._exit(3)  # the parent is gone: stop at once, whatever we were doing

    threading.Thread(target=orphaned, daemon=True).start()
    redis = Redis.from_url(redis_url, socket_timeout=10)
    db = Database(db_url) if role == "backbone" else None
    try:
        if db is None:
            say(ready=True)
            cpu = time.process_time()
            seen = await raw_consume_pipelined(redis, events)
            done_at, cpu = time.time(), time.process_time() - cpu
            report: dict[str, Any] = {"seen": seen}
        else:
            await prepare(db)
            consumer = bench_consumer(db, redis)
            await consumer.ensure_groups()
            say(ready=True)
            cpu = time.process_time()
            async with consumers_running(consumer):
                await until(
                    lambda: handled(consumer) >= events,
                    lambda: f"consumer {consumer.stats}",
                )
                done_at, cpu = time.time(), time.process_time() - cpu
            report = {"counts": await applied_counts(db)}
        finished.set()
        say(done_at=done_at, cpu=cpu, **report)
    finally:
        await redis.aclose()
        if db is not None:
            await db.dispose()


def say(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def stages(
    redis: Redis, producer: Database, consumer_db: Database, events: int, per_commit: int
) -> str:
    """The same work one stage at a time, to see where the time goes."""
    consumer = bench_consumer(consumer_db, redis, group="stages")
    await consumer.ensure_groups()
    relay = OutboxRelay(producer, redis)
    rates = []
    started = time.perf_counter()
    await produce(producer, events, per_commit)
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
    # The consumer process of the two-process topology is this script again.
    parser.add_argument("--role", choices=("raw", "backbone"), help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        await consumer_child(args.role, args.redis_url, args.consumer_db, args.events)
        return

    main_task = asyncio.current_task()
    assert main_task is not None
    # Stopped with SIGTERM: unwind like Ctrl-C, so the consumer process and Redis stop too.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    load_before = os.getloadavg()
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
    sessions: list[float] = []
    sessions_cpu: list[float] = []
    raw_2p: list[Run] = []
    ours_2p: list[Run] = []
    try:
        for round_no in range(args.rounds):
            rate, cpu_per_event = await raw_loop(redis, args.events)
            raw.append(rate)
            raw_cpu.append(cpu_per_event)
            paths = [(False, ours, cpu), (True, sessions, sessions_cpu)]
            # Alternate which goes first, so a drift within a round does not always fall on one.
            for through_sessions, rates, cpus in paths if round_no % 2 == 0 else paths[::-1]:
                name = f"{round_no}_sessions" if through_sessions else str(round_no)
                producer = Database(_url(args.producer_db, postgres, work, f"producer_{name}"))
                consumer = Database(_url(args.consumer_db, postgres, work, f"consumer_{name}"))
                await prepare(producer)
                await prepare(consumer)
                await redis.delete(BACKBONE_STREAM)
                rate, cpu_per_event = await backbone(
                    redis, producer, consumer, args.events, args.per_commit, sessions=through_sessions
                )
                rates.append(rate)
                cpus.append(cpu_per_event)
                await producer.dispose()
                await consumer.dispose()

            raw_2p.append(await raw_two_processes(redis, server.url, args.events))
            producer = Database(_url(args.producer_db, postgres, work, f"producer_2p_{round_no}"))
            await prepare(producer)
            await redis.delete(BACKBONE_STREAM)
            consumer_url = _url(args.consumer_db, postgres, work, f"consumer_2p_{round_no}")
            ours_2p.append(
                await backbone_two_processes(
                    redis, server.url, producer, consumer_url, args.events, args.per_commit
                )
            )
            await producer.dispose()
        if args.stages:
            producer = Database(_url(args.producer_db, postgres, work, "producer_stages"))
            consumer = Database(_url(args.consumer_db, postgres, work, "consumer_stages"))
            await prepare(producer)
            await prepare(consumer)
            await redis.delete(BACKBONE_STREAM)
            breakdown = await stages(redis, producer, consumer, args.events, args.per_commit)
            await producer.dispose()
            await consumer.dispose()
    finally:
        await redis.aclose()
        server.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)

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
    session_ratios = [s / r for s, r in zip(sessions, raw, strict=True)]
    session_factor = statistics.median(c / r for c, r in zip(sessions_cpu, raw_cpu, strict=True))
    print(
        f"the same through sessions:               {statistics.median(sessions):>10,.0f} events/s, "
        f"CPU {statistics.median(sessions_cpu) * 1e6:,.0f} µs/event ({session_factor:.1f}x raw), "
        f"ratio {statistics.median(session_ratios):.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in session_ratios)})"
    )
    print_two_processes(raw_2p, ours_2p)
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")


def print_two_processes(raw: list[Run], ours: list[Run]) -> None:
    print()
    print("as deployed: producer + relay in this process, consumer in another (own database, same Redis)")
    print("  CPU per event: this process + the consumer process")
    for n, (r, o) in enumerate(zip(raw, ours, strict=True), 1):
        print(
            f"  round {n}: raw {r.rate:>7,.0f}/s, CPU {_us(r.producer_cpu)} + {_us(r.consumer_cpu)} µs; "
            f"backbone {o.rate:>6,.0f}/s, CPU {_us(o.producer_cpu)} + {_us(o.consumer_cpu)} µs; "
            f"ratio {o.rate / r.rate:.2f}, CPU {o.cpu / r.cpu:.1f}x"
        )
    ratios = [o.rate / r.rate for r, o in zip(raw, ours, strict=True)]
    print(
        f"raw, XADD here → XREADGROUP+XACK there:  {_median(raw, 'rate'):>9,.0f} events/s  "
        f"(runs: {_rates([r.rate for r in raw])})"
    )
    print(
        f"backbone, relay here → consumer there:   {_median(ours, 'rate'):>9,.0f} events/s  "
        f"(runs: {_rates([o.rate for o in ours])})"
    )
    for name, runs in (("backbone", ours), ("raw loop", raw)):
        producer, consumer = _us(_median(runs, "producer_cpu")), _us(_median(runs, "consumer_cpu"))
        print(
            f"{name} CPU, both processes, per event: {_median(runs, 'cpu') * 1e6:>8,.0f} µs  "
            f"(producer {producer} + consumer {consumer}; runs: {', '.join(_us(r.cpu) for r in runs)})"
        )
    factor = statistics.median(o.cpu / r.cpu for r, o in zip(raw, ours, strict=True))
    print(f"backbone / raw CPU, both processes:      {factor:>10.1f}x")
    print(
        f"ratio backbone / raw, two processes:     {statistics.median(ratios):>10.2f}  "
        f"(target ≥ 0.2; rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def _median(runs: list[Run], attribute: str) -> float:
    return statistics.median(float(getattr(run, attribute)) for run in runs)


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


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
