"""Shop floor: 200 simulated machines, 2,000 signal updates/s for a minute, through Debian's
Mosquitto and the shop-floor connector into MES.

Starts Redis, the gateway, MES, xref and the connector on loopback (SQLite, the embedded default)
and Mosquitto; registers every machine (MES equipment with a running order, xref mappings of its
Sparkplug id); then runs the machines as Sparkplug B edge nodes (simulator processes, 50 machines
each). An update is one signal change a machine publishes: a part counted (good or scrap) or a
state change (running ⇄ idle). Prints, over the measured window:

- latency from a machine's state change (its own timestamp, carried to MES as `occurred_at`) to
  MES recording the new state (the state change's `created_at`): p50, p99, max;
- the connector's CPU per update (Linux /proc), and every other process's CPU, beside the load
  average of the machine (shared with other work; say what ran beside);
- backlog: readings waiting in the connector and changes it owes MES, sampled each second; growth
  is the mean of the last 10 s minus the mean of the first 10 s.

    .venv/bin/python benchmarks/shopfloor.py [--machines 200] [--rate 2000] [--changes 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.quality_latency import Stack
from connectors.shopfloor.simulator.run import STATES_SECTION
from connectors.shopfloor.simulator.sparkplug_edge import device_id
from plantbridge.brokers import Mosquitto
from plantbridge.launcher import register_client

GROUP, HOST_ID = "BENCH", "bench-host"
PER_EDGE = 50
SCOPES = ("mes:read", "mes:write", "xref:read", "xref:write", "shopfloor:read")


def machines(count: int) -> list[tuple[int, str]]:
    """(edge node number, machine name) for every machine."""
    return [(n // PER_EDGE + 1, f"E{n // PER_EDGE + 1}-{n % PER_EDGE + 1:03d}") for n in range(count)]


async def seed(api: dict[str, httpx.AsyncClient], fleet: list[tuple[int, str]]) -> None:
    gate = asyncio.Semaphore(16)

    async def one(edge: int, name: str) -> None:
        async with gate:
            mes, xref = api["mes"], api["xref"]
            body = {"equipment_id": name, "description": name, "work_centre": "WC-1", "site": "P1"}
            (await mes.post("/mes/v1/equipment", json={**body, "state": "idle"})).raise_for_status()
            operation = {"op_no": 10, "work_centre": "WC-1", "equipment_id": name}
            order = {"order_id": f"MO-{name}", "item_id": "FG-1", "planned_quantity": 10**6, "site": "P1"}
            (
                await mes.post("/mes/v1/production-orders", json={**order, "operations": [operation]})
            ).raise_for_status()
            for action in ("release", "start"):
                (await mes.post(f"/mes/v1/production-orders/MO-{name}/{action}")).raise_for_status()
            entity = (await xref.post("/xref/v1/entities", json={"kind": "equipment", "label": name})).json()
            for system, system_id in (("mes", name), ("shopfloor", device_id(GROUP, f"edge-{edge}", name))):
                mapping = {"canonical_id": entity["canonical_id"], "system": system, "system_id": system_id}
                (await xref.post("/xref/v1/mappings", json=mapping)).raise_for_status()

    await asyncio.gather(*(one(edge, name) for edge, name in fleet))


def plant_map(work: Path) -> Path:
    path = work / "machines.toml"
    sparkplug = f'[sparkplug]\ngroups = ["{GROUP}"]\nhost_id = "{HOST_ID}"\n'
    path.write_text(f"{STATES_SECTION}\n{sparkplug}")
    return path


def start_edges(
    work: Path, broker: Mosquitto, edges: int, parts: float, changes: float
) -> list[subprocess.Popen[bytes]]:
    started = []
    for edge in range(1, edges + 1):
        command = [sys.executable, "-m", "plantbridge", "simulate", "machines", "--protocol", "sparkplug"]
        command += ["--count", str(PER_EDGE), "--prefix", f"E{edge}", "--mqtt", broker.url, "--group", GROUP]
        command += ["--node", f"edge-{edge}", "--primary-host", HOST_ID, "--seed", str(edge)]
        command += ["--parts-per-second", f"{parts / edges}", "--changes-per-second", f"{changes / edges}"]
        with open(work / f"edge-{edge}.log", "ab") as log:
            started.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    return started


def readings(metrics_text: str) -> float:
    found = re.findall(r"^plantbridge_shopfloor_readings_total\{[^}]*\} ([0-9.e+]+)$", metrics_text, re.M)
    return sum(float(v) for v in found)


def cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def latencies(mes: httpx.AsyncClient, names: list[str], start: datetime, end: datetime) -> list[float]:
    found: list[float] = []
    gate = asyncio.Semaphore(16)

    async def one(name: str) -> None:
        cursor = None
        async with gate:
            while True:
                params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = (await mes.get(f"/mes/v1/equipment/{name}/state-changes", params=params)).json()
                for change in page["items"]:
                    changed = datetime.fromisoformat(change["changed_at"])
                    if start <= changed < end:
                        found.append((datetime.fromisoformat(change["created_at"]) - changed).total_seconds())
                cursor = page["next_cursor"]
                if not cursor:
                    return

    await asyncio.gather(*(one(n) for n in names))
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(args: argparse.Namespace, work: Path) -> None:
    stack = Stack(work, None)
    broker = Mosquitto(work / "mosquitto").start()
    edges: list[subprocess.Popen[bytes]] = []
    try:
        stack.start("gateway", "GATEWAY", issuer=stack.gateway_url)
        for name, prefix in (("mes", "MES"), ("xref", "XREF")):
            stack.start(name, prefix)
        gateway_env = {"GATEWAY_DATABASE_URL": stack.db("gateway")}
        connector_secret = secrets.token_urlsafe(24)
        register_client(
            gateway_env, "shopfloor-connector", ("mes:read", "mes:write", "xref:read"), connector_secret
        )
        bench_secret = secrets.token_urlsafe(24)
        register_client(gateway_env, "bench", SCOPES, f"{bench_secret}")
        mes_url, xref_url = (p.url for p in stack.processes if p.name in ("mes", "xref"))
        connector = stack.start(
            "shopfloor",
            "SHOPFLOOR",
            mes_url=mes_url,
            xref_url=xref_url,
            client_id="shopfloor-connector",
            client_secret=connector_secret,
            mqtt_url=broker.url,
            mapping_file=str(plant_map(work)),
        )
        async with httpx.AsyncClient(timeout=30) as http:
            token = (
                await http.post(
                    f"{stack.gateway_url}/oauth2/token",
                    auth=("bench", bench_secret),
                    data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)},
                )
            ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        api = {
            name: httpx.AsyncClient(base_url=url, headers=headers, timeout=30)
            for name, url in (("mes", mes_url), ("xref", xref_url), ("shopfloor", connector.url))
        }
        fleet = machines(args.machines)
        began = time.monotonic()
        await seed(api, fleet)
        print(f"seeded {len(fleet)} machines in {time.monotonic() - began:.0f} s", flush=True)

        edge_count = (args.machines + PER_EDGE - 1) // PER_EDGE
        edges = start_edges(work, broker, edge_count, args.rate - args.changes, args.changes)
        await asyncio.sleep(args.warmup)
        # Measure the steady state: the births' first changes and counts reach MES first.
        warm = time.monotonic()
        for _ in range(600):
            if (await api["shopfloor"].get("/shopfloor/v1/status")).json()["backlog"] <= args.machines // 10:
                break
            await asyncio.sleep(1.0)
        print(f"steady {args.warmup + time.monotonic() - warm:.0f} s after the machines started", flush=True)

        pids = {
            "connector": connector.process.pid if connector.process else 0,
            "mosquitto": broker.process.pid if broker.process else 0,
        }
        pids |= {
            p.name: p.process.pid
            for p in stack.processes
            if p.process and p.name in ("mes", "xref", "gateway")
        }
        pids |= {f"edge-{n + 1}": e.pid for n, e in enumerate(edges)}
        cpu_before = {name: cpu(pid) for name, pid in pids.items()}
        read_before = readings((await api["shopfloor"].get("/metrics")).text)
        load_before = os.getloadavg()
        start, started = datetime.now(UTC), time.monotonic()
        samples: list[tuple[int, int]] = []
        while time.monotonic() - started < args.seconds:
            status = (await api["shopfloor"].get("/shopfloor/v1/status")).json()
            samples.append((status["queued"], status["backlog"]))
            await asyncio.sleep(1.0)
        end, elapsed = datetime.now(UTC), time.monotonic() - started
        cpu_after = {name: cpu(pid) for name, pid in pids.items()}
        read_after = readings((await api["shopfloor"].get("/metrics")).text)
        load_after = os.getloadavg()
        for edge in edges:
            edge.terminate()
        # Every change of the window must be in MES before latencies are read, the slowest above all.
        drained = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            status = (await api["shopfloor"].get("/shopfloor/v1/status")).json()
            if status["queued"] == 0 and status["backlog"] == 0:
                break
        print(f"backlog drained {time.monotonic() - drained:.0f} s after the machines stopped")

        found = await latencies(api["mes"], [name for _, name in fleet], start, end)
        report(args, elapsed, read_after - read_before, found, cpu_before, cpu_after, samples)
        stages(work / "shopfloor.db", start, end)
        print(f"load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f}", end="")
        print(f" on {os.cpu_count()} cores")
        for client in api.values():
            await client.aclose()
    finally:
        for edge in edges:
            if edge.poll() is None:
                edge.kill()
        broker.stop()
        stack.stop()


def report(
    args: argparse.Namespace,
    elapsed: float,
    updates: float,
    found: list[float],
    cpu_before: dict[str, float],
    cpu_after: dict[str, float],
    samples: list[tuple[int, int]],
) -> None:
    spent = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    print(
        f"\n{args.machines} machines, {args.rate:g} updates/s asked ({args.changes:g} state changes/s), ",
        end="",
    )
    print(f"{elapsed:.0f} s measured, debounce 0.2 s (the default)")
    print(f"updates the connector took in: {updates:.0f} ({updates / elapsed:.0f}/s)")
    if found:
        p50, p99 = percentile(found, 50) * 1000, percentile(found, 99) * 1000
        print(f"state change → MES state: {len(found)} changes, p50 {p50:.0f} ms, p99 {p99:.0f} ms, ", end="")
        print(f"max {max(found) * 1000:.0f} ms (the 200 ms debounce is part of it)")
    connector = spent["connector"]
    print(
        f"connector CPU: {connector:.1f} s = {connector / max(updates, 1) * 1e6:.0f} µs per update ", end=""
    )
    print(f"({connector / elapsed * 100:.0f} % of one core)")
    others = ", ".join(f"{n} {s / elapsed * 100:.0f} %" for n, s in sorted(spent.items()) if n != "connector")
    print(f"other processes (share of one core): {others}")
    head, tail = samples[:10], samples[-10:]
    for label, index in (("readings queued in the connector", 0), ("changes owed to MES", 1)):
        first, last = statistics.mean(s[index] for s in head), statistics.mean(s[index] for s in tail)
        print(f"{label}: first 10 s mean {first:.1f}, last 10 s mean {last:.1f}, ", end="")
        print(f"growth {last - first:+.1f}, max {max(s[index] for s in samples)}")


def stages(database: Path, start: datetime, end: datetime) -> None:
    """Where a state change's time goes, from the connector's outbox: machine → staged (transport,
    batching, the debounce) and staged → MES answered (the writer's queue, the HTTP call, MES)."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT machine_at, created_at, sent_at FROM sf_commands"
            " WHERE kind = 'state' AND sent_at IS NOT NULL"
        ).fetchall()
    staged, answered = [], []
    for machine_at, created_at, sent_at in rows:
        machine = datetime.fromisoformat(machine_at).replace(tzinfo=UTC)
        if start <= machine < end:
            staged.append(
                (datetime.fromisoformat(created_at) - datetime.fromisoformat(machine_at)).total_seconds()
            )
            answered.append(
                (datetime.fromisoformat(sent_at) - datetime.fromisoformat(created_at)).total_seconds()
            )
    for label, values in (("machine → staged in the outbox", staged), ("staged → MES answered", answered)):
        if values:
            p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
            print(f"{label}: p50 {p50:.0f} ms, p99 {p99:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2000.0, help="signal updates per second, all machines")
    parser.add_argument("--changes", type=float, default=20.0, help="of which state changes per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plantbridge-shopfloor-bench-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
