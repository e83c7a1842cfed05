"""What tracing costs: the same service with tracing off and on, measured in the same run.

    .venv/bin/python benchmarks/tracing_overhead.py [--duration 5] [--rounds 3] [--connections 16]

Starts on loopback a Redis server, an OTLP/HTTP sink (accepts `POST /v1/traces` and discards the
body, as a collector on another host would take the load off this one) and two identical
stacks: ERP behind a gateway, one without an OTLP endpoint, one exporting every span to the sink.
Each target (ERP direct, gateway → ERP, reading one item under a bearer token) is driven by
`wrk -t1 -cN`, the off and on stacks alternating round by round so drift hits both; medians
are printed. Then the kernel's tracing hooks are timed in-process with tracing off, next to an
empty `with` block, to show what "off" costs on the paths that call them.

Needs `wrk` on PATH (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import threading
import timeit
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gateway import Result, wrk  # noqa: E402
from plantbridge.processes import RedisServer, ServiceProcess  # noqa: E402
from tests.support.tokens import TokenIssuer  # noqa: E402

PATH = "/erp/v1/items/BENCH-1"


@contextlib.contextmanager
def otlp_sink() -> Iterator[tuple[str, dict[str, int]]]:
    counts = {"exports": 0, "bytes": 0}

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            counts["exports"] += 1
            counts["bytes"] += len(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", counts
    finally:
        server.shutdown()
        server.server_close()


def start_stack(
    name: str, work: Path, redis: RedisServer, issuer: TokenIssuer, endpoint: str
) -> list[ServiceProcess]:
    traced = {"OTLP_ENDPOINT": endpoint} if endpoint else {}

    def env(prefix: str, **extra: str) -> dict[str, str]:
        base = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{work}/{name}-{prefix.lower()}.db",
            "REDIS_URL": redis.url,
            "AUTH_ISSUERS": issuer.setting,
            "LOG_LEVEL": "WARNING",
            **traced,
            **extra,
        }
        return {f"{prefix}_{k}": v for k, v in base.items()}

    erp = ServiceProcess("erp", env("ERP"), log_path=work / f"{name}-erp.log").start(60)
    gateway = ServiceProcess(
        "gateway",
        env(
            "GATEWAY",
            UPSTREAMS=f"erp={erp.url}",
            RATE_LIMITS="erp=1000000000/60",
            ACCESS_LOG="false",
        ),
        log_path=work / f"{name}-gateway.log",
    ).start(60)
    return [erp, gateway]


def hook_costs() -> dict[str, float]:
    """Nanoseconds per call of each hook with tracing off (this process never configured it)."""
    from contracts.kit import correlation, tracing

    assert not tracing.enabled()
    number = 200_000
    empty = contextlib.nullcontext()
    with correlation.bound("bench", "") as ctx:
        tp = ctx.traceparent
        headers = correlation.outgoing_headers()
        scope_headers = [(b"traceparent", tp.encode())]

        def reference() -> None:
            with empty:
                pass

        def server() -> None:
            with tracing.server("GET", scope_headers):
                pass

        def client() -> None:
            with tracing.client("GET", "erp", "http://erp", "/erp/v1/items", headers):
                pass

        def child() -> None:
            with tracing.child("step"):
                pass

        def staged() -> None:
            tracing.staged("erp.item.created.v1", "events.erp", "id", tp)

        timed = {
            "empty `with` block (reference)": reference,
            "tracing.server (gateway, each request)": server,
            "tracing.client (typed clients, proxy)": client,
            "tracing.child (each flow step)": child,
            "tracing.staged (each event staged)": staged,
        }
        return {
            name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9 for name, fn in timed.items()
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, otlp_sink() as (endpoint, sink):
        work = Path(tmp)
        issuer = TokenIssuer(work / "issuer")
        token = issuer.mint(["erp:read", "erp:write"])
        redis = RedisServer(work / "redis").start()
        stacks: dict[str, list[ServiceProcess]] = {}
        try:
            for mode, url in (("off", ""), ("on", endpoint)):
                stacks[mode] = start_stack(mode, work, redis, issuer, url)
            headers = {"Authorization": f"Bearer {token}"}
            for erp, _ in stacks.values():
                made = httpx.post(
                    f"{erp.url}/erp/v1/items",
                    headers=headers,
                    json={"item_id": "BENCH-1", "description": "benchmark item"},
                )
                assert made.status_code == 201, made.text
            targets = {
                (mode, where): f"{process.url}{PATH}"
                for mode, (erp, gateway) in stacks.items()
                for where, process in (("erp", erp), ("gateway", gateway))
            }
            for url in targets.values():
                assert httpx.get(url, headers=headers).status_code == 200
                wrk(url, token, 2, args.connections)  # warm-up
            results: dict[tuple[str, str], list[Result]] = {key: [] for key in targets}
            for _ in range(args.rounds):
                for key, url in targets.items():
                    results[key].append(wrk(url, token, args.duration, args.connections))
        finally:
            for processes in stacks.values():
                for process in reversed(processes):
                    process.stop()
            redis.stop()
        report(results, sink)
    print("\nhooks with tracing off (ns per call, best of 5):")
    for name, ns in hook_costs().items():
        print(f"  {name:<40}{ns:>8.0f}")
    return 0


def report(results: dict[tuple[str, str], list[Result]], sink: dict[str, int]) -> None:
    def median(key: tuple[str, str], field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[key])

    print(f"\n{'target':<30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'on/off':>8}{'non-2xx':>9}")
    for where in ("erp", "gateway"):
        for mode in ("off", "on"):
            key = (mode, where)
            ratio = median(key, "rps") / median(("off", where), "rps")
            label = f"{'gateway → erp' if where == 'gateway' else 'erp direct'}, tracing {mode}"
            print(
                f"{label:<30}{median(key, 'rps'):>9.0f}{median(key, 'p50_ms'):>9.2f}"
                f"{median(key, 'p99_ms'):>9.2f}{ratio:>8.2f}{sum(r.errors for r in results[key]):>9}"
            )
    print(f"sink received {sink['exports']} OTLP exports, {sink['bytes'] / 1e6:.1f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
