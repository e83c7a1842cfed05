"""Partner webhook deliveries per second, and CPU per delivery, next to bare signed POSTs.

    python benchmarks/webhooks.py [--events 4000] [--endpoints 2] [--postgres]

Pipeline: events XADDed to `events.qms` as a relay does → the webhooks service (its own process,
SQLite unless --postgres) consumes them, fans each out into a message per subscribed endpoint,
signs (standardwebhooks), POSTs to a local receiver process (uvicorn, verifies every 10th
delivery with the reference library, counts ids) and records every attempt. Timed: first XADD to
the receiver holding every (endpoint, event) once. Baseline, same run: this script POSTing the
same signed bodies to the same receiver over the kernel's HTTP/1.1 pool, 64 in flight, no
database and no streams: the most the receiver and the loopback allow here.

The service's CPU is read from /proc (user + system) and divided by the deliveries. The machine
is shared: the load average is printed with the figures. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from connectors.webhooks.fanout import body_of
from connectors.webhooks.signing import signed_headers
from contracts.events.qms import InspectionLotCreated
from contracts.kit.envelope import CloudEvent, encode
from contracts.kit.http1 import Pool
from plantbridge.processes import RedisServer, ServiceProcess, free_port, wait_for_port
from tests.support.postgres import PostgresServer
from tests.support.tokens import mint_token, service_env

TARGET = 500.0  # deliveries per second (issue 22)
EVENT_TYPE = "qms.inspection_lot.created.v1"


# --- the receiver (its own process: `python benchmarks/webhooks.py --receiver PORT SECRETS_JSON`) ---
def receiver_app(secrets: dict[str, str]) -> Any:
    """`secrets`: the signing secret of each endpoint path."""
    from standardwebhooks import Webhook

    verifiers = {path: Webhook(secret) for path, secret in secrets.items()}
    seen: dict[str, set[str]] = {}
    count = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal count
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":  # the counts, for the driver
            total = sum(len(ids) for ids in seen.values())
            answer = f'{{"unique": {total}, "posts": {count}}}'.encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": answer})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        count += 1
        if count % 10 == 0:
            verifiers[scope["path"]].verify(body, headers)  # raises (a 500) if a signature were wrong
        seen.setdefault(scope["path"], set()).add(headers["webhook-id"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def run_receiver(port: int, secrets: str) -> None:
    import json

    import uvicorn

    uvicorn.run(
        receiver_app(json.loads(secrets)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --- the driver ------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event(n: int) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/qms",
        type=EVENT_TYPE,
        subject=f"IL-{n}",
        time=datetime.now(UTC),
        data=InspectionLotCreated(
            inspection_lot_id=f"IL-{n}",
            origin="goods_receipt",
            item_id="RM-STEEL-42",
            lot_id=f"LOT-{n}",
            sample_size=5,
            characteristics=["DIAMETER", "SURFACE"],
            supplier_id="SUP-ACME",
        ),
        correlationid=uuid.uuid4().hex,
    )


async def counts(receiver: str) -> dict[str, int]:
    async with httpx.AsyncClient() as http:
        answer: dict[str, int] = (await http.get(f"{receiver}/count")).json()
        return answer


async def baseline(receiver: str, secret: str, deliveries: int) -> float:
    """Bare signed POSTs, 64 in flight, same bodies: deliveries per second."""
    pool = Pool(receiver, size=64, connect_timeout=5, timeout=15)
    bodies = [body_of(event(n)) for n in range(200)]
    done = 0

    async def worker(start: int) -> None:
        nonlocal done
        n = start
        while done < deliveries:
            done += 1
            body = bodies[n % len(bodies)]
            headers = signed_headers(str(uuid.uuid4()), body, [secret], time.time())
            await pool.request("POST", b"/baseline", headers, body)
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(64)))
    elapsed = time.perf_counter() - started
    pool.close()
    return deliveries / elapsed


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="pb-bench-webhooks-"))
    redis_server = RedisServer(root / "redis").start()
    postgres = PostgresServer().start() if args.postgres else None
    database = (
        postgres.new_database("bench_webhooks") if postgres else f"sqlite+aiosqlite:///{root}/webhooks.db"
    )
    service = ServiceProcess(
        "webhooks",
        {
            "WEBHOOKS_REDIS_URL": redis_server.url,
            "WEBHOOKS_DATABASE_URL": database,
            "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WEBHOOKS_ALLOW_HTTP": "true",
            "WEBHOOKS_LOG_LEVEL": "WARNING",
            **service_env("WEBHOOKS"),
        },
        log_path=root / "webhooks.log",
    ).start(60)
    receiver_port = free_port()
    receiver = f"http://127.0.0.1:{receiver_port}"
    secret: str | None = None
    receiver_process: asyncio.subprocess.Process | None = None
    redis = Redis.from_url(redis_server.url)
    try:
        token = mint_token(["webhooks:subscribe", "qms:read"], client_id="bench-partner")
        async with httpx.AsyncClient(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            subscriptions = []
            for k in range(args.endpoints):
                created = await api.post(
                    "/webhooks/v1/subscriptions",
                    json={"url": f"{receiver}/hooks/{k}", "event_types": [EVENT_TYPE]},
                )
                created.raise_for_status()
                subscriptions.append(created.json())
        secret = subscriptions[0]["secret"]
        paths = {f"/hooks/{k}": s["secret"] for k, s in enumerate(subscriptions)} | {"/baseline": secret}
        receiver_process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--receiver", str(receiver_port), json.dumps(paths)
        )
        wait_for_port(receiver_port)
        wanted = args.events * args.endpoints

        base_rate = await baseline(receiver, secret, min(wanted, 4000))
        before = (await counts(receiver))["unique"]

        payloads = [encode(event(n)) for n in range(args.events)]
        cpu_before = cpu_seconds(service.process.pid)  # type: ignore[union-attr]
        started = time.perf_counter()
        for chunk in range(0, len(payloads), 500):
            pipe = redis.pipeline(transaction=False)
            for payload in payloads[chunk : chunk + 500]:
                pipe.xadd("events.qms", {"id": uuid.uuid4().hex, "type": EVENT_TYPE, "event": payload})
            await pipe.execute()
        while (await counts(receiver))["unique"] - before < wanted:
            if time.perf_counter() - started > 600:
                raise TimeoutError("deliveries did not finish within 10 minutes")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(service.process.pid) - cpu_before  # type: ignore[union-attr]
        got = await counts(receiver)
        rate = wanted / elapsed
        print(
            f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        store = "PostgreSQL" if postgres else "SQLite"
        print(f"store: {store}; {args.events} events x {args.endpoints} endpoints")
        print(f"baseline, bare signed POSTs from one process, 64 in flight: {base_rate:8.0f} /s")
        print(f"webhooks service (stream, fan-out, signed POST, attempt recorded): {rate:8.0f} deliveries/s")
        print(f"  ratio to the baseline: {rate / base_rate:.2f}; {elapsed:.2f} s for {wanted} deliveries")
        print(f"  service CPU: {cpu * 1000 / wanted:.3f} ms per delivery ({cpu:.2f} s in all)")
        posts = got["posts"] - before
        print(f"  receiver: {posts} POSTs for {wanted} deliveries (repeats: {posts - wanted})")
        print(f"  target {TARGET:.0f} deliveries/s: {'met' if rate >= TARGET else 'NOT met'}")
    finally:
        await redis.aclose()
        if receiver_process is not None:
            receiver_process.terminate()
            await receiver_process.wait()
        service.stop()
        redis_server.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        run_receiver(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    asyncio.run(main(parser.parse_args()))
