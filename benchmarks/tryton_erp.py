"""The ERP API in front of Tryton: failed inspection → Tryton's blocked location, and Tryton → our event.

Starts Redis, the gateway, ERP, QMS and the quality process on loopback, twice: with the
embedded ERP (the baseline) and with ERP_BACKEND=tryton in front of a real trytond (SQLite). In
each it prepares lots waiting for a decision, posts `block` decisions at a fixed rate and times
each one until the lot's BLOCKED status change is published; with Tryton it also times it until
Tryton committed the move into its blocked location (the move's write_date: same machine clock).

Then the polling lag: a clerk releases lots in Tryton through Tryton's RPC, and each is timed from
Tryton's answer (the commit) until `erp.inventory_txn.posted.v1` is on the stream.

    .venv/bin/python benchmarks/tryton_erp.py [--backend postgres|sqlite] [--tryton-db postgres|sqlite]
        [--tryton-workers 2] [--rates 1,5] [--seconds 20] [--lag-samples 30] [--rounds 3]

Tryton runs as Tryton documents for production: its WSGI application under granian with
`--tryton-workers` processes, on PostgreSQL (`--tryton-db sqlite` for its SQLite backend). Each
round runs the embedded baseline, then the same with Tryton (one Tryton database for all rounds).

The services' own databases are on PostgreSQL by default: with SQLite the ERP service has one
connection, and a request in front of Tryton holds it through its Tryton calls (~0.5 s for a
block here), so commands queue one behind another (`--backend sqlite` shows it).

Targets (issue 18): p99 ≤ 1 s for the block at 5 flows/s; lag ≤ 2 s with a 1 s poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.quality_latency import Stack, _cpu_seconds, print_cpu, run_rate, summary, token
from contracts.kit.http1 import Pool
from plantbridge.tryton import TrytonServer, ensure_installed
from system_apis.erp.backends.tryton.client import TrytonClient
from tests.support.lots import prepare_lots
from tests.support.postgres import PostgresServer

PLACE = "WH1"
LOCATIONS = json.dumps({PLACE: {"unrestricted": "WH1", "quality_inspection": "WH1-QI", "blocked": "WH1-BLK"}})


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants (granian's Tryton workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return _cpu_seconds(pid) + sum(_tree_cpu(int(child)) for child in children)


def percentiles(label: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label}: n={len(ordered)} p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms", flush=True
    )
    return {
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


async def run_stack(args: argparse.Namespace, tryton: TrytonServer | None) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="pb-bench-tryton-"))
    postgres = PostgresServer().start() if args.backend == "postgres" else None
    if postgres is not None:
        for name in ("gateway", "erp", "qms", "quality"):
            postgres.new_database(f"bench_{name}")
    stack = Stack(root, postgres)
    label = "tryton" if tryton else "embedded"
    result: dict[str, Any] = {"erp": label}
    try:
        stack.start("gateway", "GATEWAY", issuer=stack.gateway_url)
        erp_env = (
            {k.removeprefix("ERP_").lower(): v for k, v in tryton.erp_env(LOCATIONS).items()}
            if tryton
            else {}
        )
        erp = stack.start("erp", "ERP", **erp_env)
        qms = stack.start("qms", "QMS")
        stack.start(
            "quality",
            "QUALITY",
            client_id="quality-process",
            client_secret=stack.register("quality-process"),
            erp_url=erp.url,
            qms_url=qms.url,
        )
        bearer = await token(stack, "bench", stack.register("bench"))
        headers = {"Authorization": f"Bearer {bearer}"}
        async with (
            httpx.AsyncClient(base_url=erp.url, headers=headers, timeout=60) as erp_http,
            httpx.AsyncClient(base_url=qms.url, headers=headers, timeout=60) as qms_http,
        ):
            redis = Redis.from_url(stack.redis.url)
            decisions = Pool(qms.url, size=64, connect_timeout=5, timeout=60)
            for rate in [float(r) for r in args.rates.split(",")]:
                # Tryton on SQLite has one writer: receive the lots a few at a time.
                lots = await prepare_lots(erp_http, qms_http, int(rate * args.seconds), concurrency=4)
                sent_at = datetime.now(UTC)
                cpu_before = stack.cpu_seconds()
                trytond_before = _tree_cpu(tryton.process.pid) if tryton and tryton.process else 0.0
                latencies = await run_rate(decisions, bearer, redis, lots, rate)
                await asyncio.sleep(3)
                print(f"[{label}]", end=" ")
                print_cpu(cpu_before, stack.cpu_seconds(), len(lots))
                if tryton is not None and tryton.process is not None:
                    spent = (_tree_cpu(tryton.process.pid) - trytond_before) * 1000 / len(lots)
                    print(f"[{label}] trytond CPU per flow: {spent:.0f} ms", flush=True)
                outcome = {
                    "event": summary(f"[{label}] decision → BLOCKED event", latencies, rate, args.seconds)
                }
                if tryton is not None:
                    outcome["tryton"] = await tryton_commit_latency(tryton, lots, sent_at, rate)
                result[f"{rate:g}/s"] = outcome
            if tryton is not None:
                result["lag"] = await polling_lag(tryton, redis, erp_http, args.lag_samples)
            decisions.close()
            await redis.aclose()
    finally:
        stack.stop()
    return result


async def tryton_commit_latency(
    tryton: TrytonServer, lots: list[dict[str, str]], sent_at: datetime, rate: float
) -> dict[str, float]:
    """Decision sent → Tryton's blocked location holds the lot (the move's commit time)."""
    client = TrytonClient(tryton.url, tryton.database, "admin", "admin")
    try:
        [blocked] = await client.call("stock.location", "search", [("code", "=", "WH1-BLK")], 0, 1, None)
        moves = await client.call(
            "stock.move",
            "search_read",
            [
                ("to_location", "=", blocked),
                ("state", "=", "done"),
                ("lot.number", "in", [lot["lot_id"] for lot in lots]),
            ],
            0,
            None,
            None,
            ["lot.number", "write_date"],
        )
    finally:
        await client.close()
    origin = sent_at.replace(tzinfo=None)
    index = {lot["lot_id"]: n for n, lot in enumerate(lots)}
    latencies = [
        ((move["write_date"] - origin).total_seconds() - index[move["lot."]["number"]] / rate) * 1000
        for move in moves
    ]
    return percentiles("[tryton] decision → Tryton's blocked location (commit)", latencies)


async def polling_lag(
    tryton: TrytonServer, redis: Redis, erp: httpx.AsyncClient, samples: int
) -> dict[str, float]:
    """A clerk releases lots in Tryton; time from Tryton's commit to our event on the stream."""
    item, supplier = f"RM-LAG-{int(time.time())}", f"SUP-LAG-{int(time.time())}"
    await erp.post("/erp/v1/items", json={"item_id": item, "description": "lag", "inspection_required": True})
    await erp.post("/erp/v1/suppliers", json={"supplier_id": supplier, "name": "lag"})
    po = (
        await erp.post(
            "/erp/v1/purchase-orders",
            json={"supplier_id": supplier, "lines": [{"item_id": item, "quantity": samples}]},
        )
    ).json()
    lots = []
    for _ in range(samples):
        receipt = await erp.post(
            "/erp/v1/goods-receipts", json={"po_id": po["po_id"], "quantity": 1, "location": PLACE}
        )
        lots.append(receipt.json()["lot_id"])
    # A person at Tryton's client: a user of their own (the connector leaves moves of its own
    # user to the request that made them for 30 s before it announces them).
    admin = TrytonClient(tryton.url, tryton.database, "admin", "admin")
    [company] = await admin.call("company.company", "search", [], 0, 1, None)
    groups = await admin.call("res.group", "search", [], 0, None, None)
    # The database serves every round: the clerk of an earlier round is still there.
    if not await admin.call("res.user", "search", [("login", "=", "clerk")], 0, 1, None):
        await admin.call(
            "res.user",
            "create",
            [
                {
                    "name": "clerk",
                    "login": "clerk",
                    "password": "clerk-Passw0rd-42",
                    "groups": [("add", groups)],
                    "companies": [("add", [company])],
                    "company": company,
                }
            ],
        )
    await admin.close()
    clerk = TrytonClient(tryton.url, tryton.database, "clerk", "clerk-Passw0rd-42")
    [qi] = await clerk.call("stock.location", "search", [("code", "=", "WH1-QI")], 0, 1, None)
    [unr] = await clerk.call("stock.location", "search", [("code", "=", "WH1")], 0, 1, None)
    [product] = await clerk.call(
        "product.product", "search_read", [("code", "=", item)], 0, 1, None, ["default_uom"]
    )
    last_id = (await redis.xinfo_stream("events.erp"))["last-generated-id"]
    lags: list[float] = []
    try:
        for lot_number in lots:
            [lot] = await clerk.call("stock.lot", "search", [("number", "=", lot_number)], 0, 1, None)
            move = {
                "product": product["id"],
                "unit": product["default_uom"],
                "quantity": 1.0,
                "lot": lot,
                "from_location": qi,
                "to_location": unr,
            }
            [shipment] = await clerk.call(
                "stock.shipment.internal",
                "create",
                [{"from_location": qi, "to_location": unr, "moves": [("create", [move])]}],
            )
            await clerk.call("stock.shipment.internal", "wait", [shipment])
            await clerk.call("stock.shipment.internal", "assign_try", [shipment])
            await clerk.call("stock.shipment.internal", "do", [shipment])
            committed = time.perf_counter()
            found = False
            while not found and time.perf_counter() - committed < 30:
                reply = await redis.xread({"events.erp": last_id}, count=100, block=1000)
                for _stream, entries in reply or []:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        event = msgspec.json.decode(fields[b"event"])
                        if (
                            event["type"] == "erp.inventory_txn.posted.v1"
                            and event["data"]["lot_id"] == lot_number
                        ):
                            lags.append((time.perf_counter() - committed) * 1000)
                            found = True
            await asyncio.sleep(0.37)  # not in step with the poll interval
    finally:
        await clerk.close()
    return percentiles("[tryton] Tryton commit → our event (1 s poll)", lags)


async def main(args: argparse.Namespace) -> None:
    ensure_installed()
    folder = Path(tempfile.mkdtemp(prefix="pb-bench-trytond-"))
    tryton_postgres = PostgresServer().start() if args.tryton_db == "postgres" else None
    postgres_uri = f"postgresql://postgres@127.0.0.1:{tryton_postgres.port}/" if tryton_postgres else None
    server = TrytonServer(folder, database="bench", postgres=postgres_uri, workers=args.tryton_workers)
    started = time.perf_counter()
    server.initialise()
    print(f"tryton database initialised in {time.perf_counter() - started:.0f} s", flush=True)
    server.start()
    rounds: list[dict[str, Any]] = []
    try:
        await asyncio.to_thread(server.prepare, LOCATIONS)
        for number in range(1, args.rounds + 1):
            print(f"--- round {number} of {args.rounds} (load average {_load()})", flush=True)
            embedded = await run_stack(args, None)
            tryton = await run_stack(args, server)
            rounds.append({"load": _load(), "embedded": embedded, "tryton": tryton})
            for rate in args.rates.split(","):
                key = f"{float(rate):g}/s"
                ratio = tryton[key]["event"]["p99_ms"] / embedded[key]["event"]["p99_ms"]
                print(f"{key}: p99 decision → BLOCKED event, tryton = {ratio:.1f}x embedded")
    finally:
        server.stop()
        if tryton_postgres is not None:
            tryton_postgres.stop()
    print(json.dumps(rounds))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1,5", help="flows per second, one run each")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--tryton-db", choices=("postgres", "sqlite"), default="postgres", help="Tryton's own database"
    )
    parser.add_argument("--tryton-workers", type=int, default=2, help="Tryton's WSGI worker processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--lag-samples", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
