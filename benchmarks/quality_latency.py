"""Failed inspection → ERP blocked: latency at a steady rate, and the highest sustained rate.

Starts Redis, the gateway, ERP, QMS and the quality process on loopback (SQLite, the embedded
default), prepares lots waiting for a decision, then posts `block` usage decisions at a fixed
rate and times each until ERP publishes the lot's BLOCKED status change. Prints p50/p99.

    .venv/bin/python benchmarks/quality_latency.py [--backend sqlite|postgres] [--rate 50] [--seconds 10]

Also prints the CPU time each process spent per flow (Linux /proc), to show where it goes, and
this script's own share of the cores (PostgreSQL's server processes are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from contracts.kit.http1 import Pool
from contracts.topology import by_name
from plantbridge.launcher import register_client
from plantbridge.processes import RedisServer, ServiceProcess, free_port
from tests.support.lots import prepare_lots
from tests.support.postgres import PostgresServer

SCOPES = ("erp:read", "erp:write", "qms:read", "qms:write", "mes:read", "mes:write")


class Stack:
    def __init__(self, root: Path, postgres: PostgresServer | None) -> None:
        self.root = root
        self.postgres = postgres
        self.redis = RedisServer(root / "redis").start()
        self.processes: list[ServiceProcess] = []
        self.gateway_port = free_port()
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"

    def db(self, name: str) -> str:
        if self.postgres is not None:
            return self.postgres.url(f"bench_{name}")
        return f"sqlite+aiosqlite:///{self.root}/{name}.db"

    def start(self, name: str, prefix: str, **env: str) -> ServiceProcess:
        settings = {
            f"{prefix}_REDIS_URL": self.redis.url,
            f"{prefix}_DATABASE_URL": self.db(name),
            f"{prefix}_AUTH_ISSUER": self.gateway_url,
            f"{prefix}_AUTH_JWKS_URL": f"{self.gateway_url}/.well-known/jwks.json",
            f"{prefix}_AUTH_TOKEN_URL": f"{self.gateway_url}/oauth2/token",
            f"{prefix}_LOG_LEVEL": "WARNING",
            **{f"{prefix}_{k.upper()}": v for k, v in env.items()},
        }
        port = self.gateway_port if name == "gateway" else None
        process = ServiceProcess(name, settings, port=port, log_path=self.root / f"{name}.log").start(60)
        self.processes.append(process)
        return process

    def register(self, client_id: str, scopes: Sequence[str] = SCOPES) -> str:
        secret = secrets.token_urlsafe(24)
        register_client({"GATEWAY_DATABASE_URL": self.db("gateway")}, client_id, scopes, secret)
        return secret

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU per process so far (Linux)."""
        pids = {"redis": self.redis.process.pid} if self.redis.process else {}
        pids |= {p.name: p.process.pid for p in self.processes if p.process is not None}
        pids["driver"] = os.getpid()  # this script: it shares the cores with the services
        return {name: _cpu_seconds(pid) for name, pid in pids.items()}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def token(stack: Stack, client_id: str, secret: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stack.gateway_url}/oauth2/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)},
        )
        return str(response.json()["access_token"])


async def run_rate(
    qms: Pool, bearer: str, redis: Redis, lots: list[dict[str, str]], rate: float
) -> list[float]:
    """Send one block decision every 1/rate s; return each lot's decision → BLOCKED latency (ms)."""
    sent: dict[str, float] = {}
    blocked: dict[str, float] = {}
    last_id = (await redis.xinfo_stream("events.erp"))["last-generated-id"]

    async def watch() -> None:
        nonlocal last_id
        while len(blocked) < len(lots):
            reply = await redis.xread({"events.erp": last_id}, count=500, block=1000)
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    if fields[b"type"] == b"erp.stock.status_changed.v1":
                        event = msgspec.json.decode(fields[b"event"])
                        if event["data"]["to_status"] == "BLOCKED":
                            blocked.setdefault(event["data"]["lot_id"], time.perf_counter())

    headers = [(b"authorization", f"Bearer {bearer}".encode()), (b"content-type", b"application/json")]
    body = msgspec.json.encode({"code": "R1", "disposition": "block", "decided_by": "bench"})

    async def decide(lot: dict[str, str]) -> None:
        target = f"/qms/v1/inspection-lots/{lot['inspection_lot_id']}/usage-decision".encode()
        sent[lot["lot_id"]] = time.perf_counter()
        status, _, answer = await qms.request("POST", target, headers, body)
        if status != 200:
            print(f"  decision on {lot['lot_id']}: {status} {answer[:200]!r}", file=sys.stderr)

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    tasks = []
    for n, lot in enumerate(lots):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(decide(lot)))
    await asyncio.gather(*tasks)
    try:
        await asyncio.wait_for(watcher, timeout=60)
    except TimeoutError:
        print(f"  {len(lots) - len(blocked)} lots not blocked within 60 s", file=sys.stderr)
    return [(blocked[k] - sent[k]) * 1000 for k in sent if k in blocked]


def summary(label: str, latencies: list[float], rate: float, seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label}: {rate:.0f} flows/s for {seconds:.0f} s, n={len(ordered)}: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms",
        flush=True,
    )
    return {"rate": rate, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "n": len(ordered)}


def print_cpu(before: dict[str, float], after: dict[str, float], flows: int) -> None:
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / flows for name in after}
    driver = spent.pop("driver")
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(spent.items(), key=lambda kv: -kv[1]))
    print(
        f"CPU ms per flow (incl. the later steps): {parts}; platform total {sum(spent.values()):.1f} "
        f"(+ this driver {driver:.1f})",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="pb-bench-"))
    postgres = PostgresServer().start() if args.backend == "postgres" else None
    if postgres is not None:
        for name in ("gateway", "erp", "qms", "quality"):
            postgres.new_database(f"bench_{name}")
    stack = Stack(root, postgres)
    print(f"backend: {args.backend}", flush=True)
    try:
        stack.start("gateway", "GATEWAY", issuer=stack.gateway_url)
        erp = stack.start("erp", "ERP")
        qms = stack.start("qms", "QMS")
        # The scopes the quality process asks for, as the launcher registers them.
        quality = by_name("quality")
        quality_secret = stack.register(quality.client_id, quality.client_scopes)
        stack.start(
            "quality",
            "QUALITY",
            client_id="quality-process",
            client_secret=quality_secret,
            erp_url=erp.url,
            qms_url=qms.url,
        )
        bearer = await token(stack, "bench", stack.register("bench"))
        headers = {"Authorization": f"Bearer {bearer}"}
        limits = httpx.Limits(max_connections=64)
        async with (
            httpx.AsyncClient(base_url=erp.url, headers=headers, timeout=30, limits=limits) as erp_http,
            httpx.AsyncClient(base_url=qms.url, headers=headers, timeout=30, limits=limits) as qms_http,
        ):
            redis = Redis.from_url(stack.redis.url)
            # The timed decisions go through the kernel's lean HTTP/1.1 client: httpx would
            # take ~2 ms of CPU per request from the cores the services share with this script.
            decisions = Pool(qms.url, size=64, connect_timeout=5, timeout=30)
            results = []
            steady = await prepare_lots(erp_http, qms_http, int(args.rate * args.seconds))
            cpu_before = stack.cpu_seconds()
            latencies = await run_rate(decisions, bearer, redis, steady, args.rate)
            await asyncio.sleep(3)  # let the flows' later steps (NC, supplier case) finish
            print_cpu(cpu_before, stack.cpu_seconds(), len(steady))
            results.append(summary("steady", latencies, args.rate, args.seconds))
            for rate in [float(r) for r in args.ramp.split(",") if r]:
                lots = await prepare_lots(erp_http, qms_http, int(rate * args.ramp_seconds))
                outcome = summary(
                    "ramp", await run_rate(decisions, bearer, redis, lots, rate), rate, args.ramp_seconds
                )
                results.append(outcome)
                if outcome["n"] < len(lots) or outcome["p99_ms"] > args.sustained_p99_ms:
                    break
            sustained = max((r["rate"] for r in results if r["p99_ms"] <= args.sustained_p99_ms), default=0)
            print(
                f"highest sustained rate with p99 ≤ {args.sustained_p99_ms:.0f} ms: {sustained:.0f} flows/s"
            )
            print(json.dumps({"results": results, "sustained_rate": sustained}))
            decisions.close()
            await redis.aclose()
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--ramp", default="100,150,200,300")
    parser.add_argument("--ramp-seconds", type=float, default=5)
    parser.add_argument("--sustained-p99-ms", type=float, default=250)
    asyncio.run(main(parser.parse_args()))
