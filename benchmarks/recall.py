"""Recall: one lot traced five levels down through 100k genealogy records, and back up.

Seeds MES (SQLite and PostgreSQL) with a recall tree (a raw-material lot used by `--fanout` orders,
each lot they make used by `--fanout` more, `--levels` deep) inside `--records` consumption and
batch records of unrelated production, then times over real HTTP against the MES process:

- baseline: `GET /mes/v1/consumptions?lot_id=` (one level, what a client had before: one call per
  lot per level, then filtering);
- `GET /mes/v1/genealogy?direction=where_used` from the raw lot, all levels in one call;
- `GET /mes/v1/genealogy?direction=where_from` from a lot at the bottom, back up.

With `--e2e` it also starts ERP, QMS, the gateway and the quality process and times the whole
recall (`GET /quality/v1/traceability?lot_id=`: genealogy plus ERP stock and movements and QMS
inspections and nonconformances per lot, eight calls in flight) on SQLite.

    .venv/bin/python benchmarks/recall.py [--records 100000] [--levels 5] [--fanout 3] [--runs 30]
        [--backends sqlite,postgres] [--e2e]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from contracts.kit import migrations
from plantbridge.processes import RedisServer, ServiceProcess, free_port
from system_apis.mes import store
from system_apis.mes.app import SPEC as MES
from tests.support.postgres import PostgresServer
from tests.support.tokens import TokenIssuer

NOW = datetime.now(UTC)
SCOPES = ["mes:read", "mes:write", "quality:read", "erp:read", "qms:read"]


# --- data ---------------------------------------------------------------------------------------
class Genealogy:
    """Rows of production orders, consumptions and batches: the recall tree, then background."""

    def __init__(self, levels: int, fanout: int, records: int, seed: int = 23) -> None:
        self.rng = random.Random(seed)
        self.orders: list[dict[str, Any]] = []
        self.consumptions: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []
        self.start = "LOT-RECALL-RAW"
        self.tree_orders = 0
        frontier = [self.start]
        for level in range(1, levels + 1):
            made = []
            for lot in frontier:
                for _ in range(fanout):
                    made.append(self.order(f"L{level}", [lot]))
            self.tree_orders += len(made)
            frontier = made
        self.leaf = frontier[0]
        background: list[str] = []
        while len(self.consumptions) + len(self.batches) < records:
            raw = f"LOT-RAW-{len(self.orders)}"
            used = [raw, self.rng.choice(background)] if background else [raw]
            background.append(self.order("BG", used))

    def order(self, item: str, inputs: list[str]) -> str:
        n = len(self.orders)
        order_id, lot_id = f"MO-{n:07d}", f"LOT-{n:07d}"
        record = {"version": 1, "created_at": NOW, "updated_at": NOW}
        self.orders.append(
            {
                "id": order_id,
                "item_id": f"FG-{item}",
                "planned_quantity": 100.0,
                "good_quantity": 100.0,
                "scrap_quantity": 0.0,
                "uom": "EA",
                "lot_id": lot_id,
                "site": "P1",
                "status": "running",
                **record,
            }
        )
        for i, used in enumerate(inputs):
            self.consumptions.append(
                {
                    "id": f"CON-{n:07d}-{i}",
                    "order_id": order_id,
                    "item_id": "RM-X",
                    "lot_id": used,
                    "quantity": 10.0,
                    "uom": "KG",
                    "output_item_id": f"FG-{item}",
                    "site": "P1",
                    **record,
                }
            )
        self.batches.append(
            {
                "id": f"BAT-{n:07d}",
                "order_id": order_id,
                "item_id": f"FG-{item}",
                "lot_id": lot_id,
                "quantity": 100.0,
                "uom": "EA",
                "site": "P1",
                **record,
            }
        )
        return lot_id

    @property
    def records(self) -> int:
        return len(self.consumptions) + len(self.batches)


async def seed(url: str, data: Genealogy) -> float:
    started = time.perf_counter()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for table, rows in (
            (store.ProductionOrderRow.__table__, data.orders),
            (store.ConsumptionRow.__table__, data.consumptions),
            (store.BatchRow.__table__, data.batches),
        ):
            for chunk in range(0, len(rows), 5000):
                await connection.execute(insert(table), rows[chunk : chunk + 5000])
    async with engine.begin() as connection:
        # Statistics, as a database in use has them (PostgreSQL's autovacuum analyzes after bulk
        # changes; SQLite's query planner uses them when present).
        await connection.execute(text("ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - started


# --- timing -------------------------------------------------------------------------------------
async def timed(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], runs: int
) -> tuple[list[float], Any]:
    answer = (await http.get(path, params=params)).raise_for_status().json()  # warm-up
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        (await http.get(path, params=params)).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, answer


def show(label: str, latencies: list[float], baseline: float | None = None, extra: str = "") -> float:
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)]
    ratio = f"  ({p50 / baseline:.1f}x the one-level call)" if baseline else ""
    print(f"  {label:<52} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{ratio}{extra}")
    return p50


async def genealogy_figures(
    url: str, backend: str, data: Genealogy, issuer: TokenIssuer, redis: RedisServer, runs: int, root: Path
) -> None:
    await asyncio.to_thread(migrations.upgrade, url, MES.versions_dir, MES.metadata)
    seconds = await seed(url, data)
    print(
        f"\n{backend}: {data.records:,} genealogy records ({len(data.orders):,} orders), "
        f"seeded in {seconds:.1f} s"
    )
    env = {
        "MES_DATABASE_URL": url,
        "MES_REDIS_URL": redis.url,
        "MES_AUTH_ISSUERS": issuer.setting,
        "MES_LOG_LEVEL": "WARNING",
    }
    process = ServiceProcess("mes", env, log_path=root / f"mes-{backend}.log").start(60)
    try:
        headers = {"Authorization": f"Bearer {issuer.mint(SCOPES)}"}
        async with httpx.AsyncClient(base_url=process.url, headers=headers, timeout=30) as http:
            one, _ = await timed(http, "/mes/v1/consumptions", {"lot_id": data.start}, runs)
            baseline = show("baseline: consumptions?lot_id= (one level)", one)
            down, answer = await timed(
                http, "/mes/v1/genealogy", {"lot_id": data.start, "max_depth": 5, "max_orders": 5000}, runs
            )
            depth = max(o["depth"] for o in answer["orders"])
            show(f"genealogy where_used, {len(answer['orders'])} orders, {depth} levels", down, baseline)
            up, answer = await timed(
                http,
                "/mes/v1/genealogy",
                {"lot_id": data.leaf, "direction": "where_from", "max_depth": 5},
                runs,
            )
            show(f"genealogy where_from, {len(answer['orders'])} orders back up", up, baseline)
    finally:
        process.stop()


# --- the whole recall through the quality process ---------------------------------------------------
async def recall_figures(
    data: Genealogy, issuer: TokenIssuer, redis: RedisServer, runs: int, root: Path
) -> None:
    """ERP, QMS, MES, the gateway and the quality process on SQLite; the recall of the tree's lot."""
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    started: list[ServiceProcess] = []

    def start(name: str, prefix: str, port: int | None = None, **env: str) -> ServiceProcess:
        settings = {
            f"{prefix}_DATABASE_URL": f"sqlite+aiosqlite:///{root}/e2e-{name}.db",
            f"{prefix}_REDIS_URL": redis.url,
            f"{prefix}_AUTH_ISSUER": gateway_url,
            f"{prefix}_AUTH_JWKS_URL": f"{gateway_url}/.well-known/jwks.json",
            f"{prefix}_AUTH_TOKEN_URL": f"{gateway_url}/oauth2/token",
            f"{prefix}_AUTH_ISSUERS": issuer.setting,
            f"{prefix}_LOG_LEVEL": "WARNING",
            **{f"{prefix}_{k.upper()}": v for k, v in env.items()},
        }
        process = ServiceProcess(name, settings, port=port, log_path=root / f"e2e-{name}.log").start(60)
        started.append(process)
        return process

    mes_url = f"sqlite+aiosqlite:///{root}/e2e-mes.db"
    await asyncio.to_thread(migrations.upgrade, mes_url, MES.versions_dir, MES.metadata)
    await seed(mes_url, data)
    try:
        start("gateway", "GATEWAY", port=gateway_port, issuer=gateway_url)
        secret = secrets.token_urlsafe(24)
        await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "plantbridge",
                "gateway",
                "register-client",
                "quality-process",
                "--scopes",
                "erp:read erp:write qms:read qms:write mes:read mes:write",
                f"--secret={secret}",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{root}/e2e-gateway.db"},
        )
        erp, qms, mes = (start(n, n.upper()) for n in ("erp", "qms", "mes"))
        quality = start(
            "quality",
            "QUALITY",
            client_id="quality-process",
            client_secret=secret,
            erp_url=erp.url,
            qms_url=qms.url,
            mes_url=mes.url,
        )
        headers = {"Authorization": f"Bearer {issuer.mint(SCOPES)}"}
        async with httpx.AsyncClient(base_url=quality.url, headers=headers, timeout=120) as http:
            params = {"lot_id": data.start, "direction": "where_used", "max_depth": 5, "max_lots": 2000}
            latencies, answer = await timed(http, "/quality/v1/traceability", params, max(3, runs // 5))
            calls = 1 + 4 * len(answer["lots"])
            show(f"recall where_used: {len(answer['lots'])} lots, ~{calls} calls below", latencies)
    finally:
        for process in reversed(started):
            process.stop()


async def main(args: argparse.Namespace) -> None:
    data = Genealogy(args.levels, args.fanout, args.records)
    print(
        f"recall tree: {args.fanout} orders per lot, {args.levels} levels = {data.tree_orders} orders; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="pb-recall-") as folder:
        root = Path(folder)
        issuer = TokenIssuer(root / "issuer")
        redis = RedisServer(root / "redis").start()
        postgres: PostgresServer | None = None
        try:
            for backend in args.backends.split(","):
                if backend == "postgres":
                    postgres = PostgresServer().start()
                    url = postgres.new_database("bench_recall")
                else:
                    url = f"sqlite+aiosqlite:///{root}/mes.db"
                await genealogy_figures(url, backend, data, issuer, redis, args.runs, root)
            if args.e2e:
                print("\nsqlite, whole recall through the quality process:")
                await recall_figures(data, issuer, redis, args.runs, root)
        finally:
            redis.stop()
            if postgres is not None:
                postgres.stop()
    print(f"\nload average afterwards {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--fanout", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--e2e", action="store_true")
    asyncio.run(main(parser.parse_args()))
