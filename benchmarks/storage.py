"""What the storage choices cost, each next to the alternative it was chosen over, in one run.

    .venv/bin/python benchmarks/storage.py [--calls 2000] [--rounds 3] [--only driver,statements,fsync,run]

driver      CPU per transaction (one UPDATE of a flow row, committed; no fsync) on a file: the
            kernel's inline driver (contracts/kit/sqlite_inline.py) against aiosqlite, which
            hops to a helper thread for every call (docs/decisions/sqlite-inline.md).
statements  CPU per UPDATE on the inline driver: the statement built once with bind parameters
            (how the hot paths of the flow engine, relay and idempotency keys run) against one
            built per call (docs/decisions/prepared-statements.md).
run         CPU per transaction of two Core statements (how the flow runner records a step): in
            one greenlet through `Database.run`, against an `AsyncConnection` (a greenlet switch
            per call) and the ORM session's unit of work (docs/decisions/db-run.md).
fsync       Commits per second with the durability the platform runs with against the cheaper
            setting it refused: SQLite synchronous=FULL against NORMAL, and Redis appendfsync
            always against everysec (docs/decisions/fsync.md). This is the price of durability,
            measured on this disk: it says what a power cut would cost to save.

The ratios are the reasons: if a ratio comes near 1, the reason has expired (or, for fsync,
durability has become free). Not a test: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis
from sqlalchemy import bindparam, event, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cpu import cpu_per_call, median_of, table  # noqa: E402
from contracts.kit import db as kit_db  # noqa: E402
from contracts.kit.db import Database  # noqa: E402
from contracts.kit.flows.store import flow_metadata, flows  # noqa: E402
from plantbridge.processes import free_port, redis_server_binary, wait_for_port  # noqa: E402

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ROW = {
    "id": "FLOW-1",
    "type": "bench",
    "status": "running",
    "data": {},
    "results": {},
    "next_step": 0,
    "attempts": 0,
    "correlation_id": "corr",
    "traceparent": "",
    "next_run_at": NOW,
    "created_at": NOW,
    "updated_at": NOW,
    "version": 1,
}
PREPARED = update(flows).where(flows.c.id == bindparam("flow")).values(version=flows.c.version + 1)


async def prepared_database(url: str, synchronous: str = "OFF") -> Database:
    """A flow table with one row. Without fsync by default, so that the CPU figures are the
    driver's and SQLAlchemy's, not the disk's (the fsync section measures that)."""
    database = Database(url)
    relax_sync(database.engine, synchronous)
    async with database.engine.begin() as conn:
        await conn.run_sync(flow_metadata.create_all)
        await conn.execute(flows.insert().values(**ROW))
    return database


def relax_sync(engine: AsyncEngine, synchronous: str) -> None:
    def pragma(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

    event.listen(engine.sync_engine, "connect", pragma)  # after the kernel's own pragmas


def aiosqlite_engine(url: str) -> AsyncEngine:
    """What SQLAlchemy's sqlite+aiosqlite dialect does by default, with the kernel's pragmas."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    event.listen(engine.sync_engine, "connect", kit_db._sqlite_pragmas)
    relax_sync(engine, "OFF")
    return engine


async def one_update(database: Database, built_per_call: bool = False) -> Callable[[], Awaitable[object]]:
    async def run() -> None:
        async with database.transaction() as session:
            if built_per_call:
                statement = update(flows).where(flows.c.id == "FLOW-1").values(version=flows.c.version + 1)
                await session.execute(statement)
            else:
                await session.execute(PREPARED, {"flow": "FLOW-1"})

    return run


async def driver(folder: Path, calls: int, which: str) -> float:
    url = f"sqlite+aiosqlite:///{folder}/driver-{time.monotonic_ns()}.db"
    database = await prepared_database(url)
    if which == "aiosqlite":  # the same database, through the dialect's own driver
        await database.engine.dispose()
        database.engine = aiosqlite_engine(url)
        database.sessions.configure(bind=database.engine)
    try:
        return await cpu_per_call(await one_update(database), calls)
    finally:
        await database.dispose()


async def statements(folder: Path, calls: int, built_per_call: bool) -> float:
    database = await prepared_database(f"sqlite+aiosqlite:///{folder}/st-{time.monotonic_ns()}.db")
    try:
        return await cpu_per_call(await one_update(database, built_per_call), calls)
    finally:
        await database.dispose()


async def transaction(folder: Path, calls: int, how: str) -> float:
    database = await prepared_database(f"sqlite+aiosqlite:///{folder}/run-{time.monotonic_ns()}.db")
    params = {"flow": "FLOW-1"}

    async def run() -> None:
        if how == "Database.run":
            await database.run(lambda conn: [conn.execute(PREPARED, params) for _ in range(2)])
        elif how == "AsyncConnection":
            async with database.engine.begin() as conn:
                await conn.execute(PREPARED, params)
                await conn.execute(PREPARED, params)
        else:
            async with database.transaction() as session:
                await session.execute(PREPARED, params)
                await session.execute(PREPARED, params)

    try:
        return await cpu_per_call(run, calls)
    finally:
        await database.dispose()


async def sqlite_commits_per_second(folder: Path, calls: int, synchronous: str) -> float:
    url = f"sqlite+aiosqlite:///{folder}/fs-{time.monotonic_ns()}.db"
    database = await prepared_database(url, synchronous)
    run = await one_update(database)
    try:
        started = time.perf_counter()
        for _ in range(calls):
            await run()
        return calls / (time.perf_counter() - started)
    finally:
        await database.dispose()


def redis_writes_per_second(folder: Path, calls: int, appendfsync: str) -> float:
    port = free_port()
    server = subprocess.Popen(
        [
            *(redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes", "--appendfsync", appendfsync, "--dir", tempfile.mkdtemp(dir=folder)),
        ],
        stdout=subprocess.DEVNULL,
    )

    async def xadds() -> float:
        redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            started = time.perf_counter()
            for n in range(calls):
                await redis.xadd(f"bench.{appendfsync}", {"n": n})
            return calls / (time.perf_counter() - started)
        finally:
            await redis.aclose()

    try:
        wait_for_port(port, process=server)  # type: ignore[arg-type]
        return uvloop.run(xadds())
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="driver,statements,fsync,run")
    args = parser.parse_args()
    only = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="bench-storage-"))

    def median(run: Callable[[], Awaitable[float]]) -> float:
        return median_of(args.rounds, lambda: uvloop.run(run()))

    if "driver" in only:
        table(
            f"SQLite driver, one committed UPDATE, median of {args.rounds} x {args.calls}",
            ["per commit"],
            {
                name: [median(lambda name=name: driver(folder, args.calls, name))]  # type: ignore[misc]
                for name in ("kernel sqlite_inline", "aiosqlite")
            },
            "kernel sqlite_inline",
        )
    if "statements" in only:
        table(
            f"UPDATE statement, median of {args.rounds} x {args.calls}",
            ["per commit"],
            {
                "built once, parameters": [median(lambda: statements(folder, args.calls, False))],
                "built per call": [median(lambda: statements(folder, args.calls, True))],
            },
            "built once, parameters",
        )
    if "run" in only:
        table(
            f"Two Core statements in one transaction, median of {args.rounds} x {args.calls}",
            ["per commit"],
            {
                how: [median(lambda how=how: transaction(folder, args.calls, how))]  # type: ignore[misc]
                for how in ("Database.run", "AsyncConnection", "ORM session")
            },
            "Database.run",
        )
    if "fsync" in only:
        commits = max(200, args.calls // 4)
        print(f"\nDurability, median of {args.rounds} x {commits} sequential writes (per second; x = cost)")
        rates = {
            ("SQLite commits", "FULL", "NORMAL"): lambda setting: median(
                lambda: sqlite_commits_per_second(folder, commits, setting)
            ),
            ("Redis XADDs", "always", "everysec"): lambda setting: median_of(
                args.rounds, lambda: redis_writes_per_second(folder, commits, setting)
            ),
        }
        for (what, kept, refused), rate in rates.items():
            kept_rate, refused_rate = rate(kept), rate(refused)
            print(
                f"{what:<16}{kept:>9} {kept_rate:>9,.0f}/s   {refused:>9} {refused_rate:>9,.0f}/s"
                f"   {refused_rate / kept_rate:>5.1f}x slower with {kept}"
            )


if __name__ == "__main__":
    main()
