"""Gateway hot-path benchmark: direct vs nginx proxy_pass vs the Plantbridge gateway, same upstream.

    .venv/bin/python benchmarks/gateway.py [--duration 10] [--connections 32] [--upstream hello,erp]

Starts everything on loopback: a Redis server, the upstream(s), Debian's nginx (one worker,
keep-alive upstream pool) and the gateway (one granian worker) doing what it does in production:
token check, Redis rate limit (one Lua script per request), routing, access log, metrics. Each
target gets a warm-up, then `wrk -t1 -cN --latency`; all three see the same bearer token.

Upstreams: `hello` is a minimal Litestar app on granian (the proxy's own cost shows most);
`erp` is the real ERP service reading one item (SQLite) under its own token check.
Needs `wrk` and `nginx` on PATH (`apt-get install -y nginx wrk`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plantbridge.processes import RedisServer, ServiceProcess, free_port, wait_for_port  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret-0123456789"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk(url: str, token: str, duration: int, connections: int) -> Result:
    args = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        url,
    ]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(url, rps, _latency(out, "50%"), _latency(out, "99%"), int(errors.group(1)) if errors else 0)


def _latency(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start_nginx(work: Path, upstream_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (work / "nginx").mkdir(exist_ok=True)
    conf = work / "nginx" / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx/nginx.pid;
error_log {work}/nginx/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx/body;
  proxy_temp_path {work}/nginx/proxy;
  fastcgi_temp_path {work}/nginx/fastcgi;
  uwsgi_temp_path {work}/nginx/uwsgi;
  scgi_temp_path {work}/nginx/scgi;
  upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(work / "nginx")], stderr=subprocess.DEVNULL
    )
    wait_for_port(port, process=process)
    return process, port


def start_hello(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "benchmarks.hello_upstream:create_app",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=30, process=process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_upstream(kind: str, work: Path, redis: RedisServer, args: argparse.Namespace) -> list[Result]:
    gw_port = free_port()
    issuer = f"http://127.0.0.1:{gw_port}"
    gw_db = f"sqlite+aiosqlite:///{work}/{kind}-gateway.db"
    helpers: list[subprocess.Popen[bytes]] = []
    services: list[ServiceProcess] = []
    try:
        if kind == "hello":
            hello, up_port = start_hello(work)
            helpers.append(hello)
            path = "/erp/v1/items/BENCH-1"
        else:
            erp = ServiceProcess(
                "erp",
                {
                    "ERP_DATABASE_URL": f"sqlite+aiosqlite:///{work}/erp.db",
                    "ERP_REDIS_URL": redis.url,
                    "ERP_AUTH_ISSUER": issuer,
                    "ERP_AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
                    "ERP_LOG_LEVEL": "WARNING",
                },
                log_path=work / "erp.log",
            )
            services.append(erp.start(timeout=60))
            up_port = erp.port
            path = "/erp/v1/items/BENCH-1"
        gw_env = {
            "GATEWAY_DATABASE_URL": gw_db,
            "GATEWAY_REDIS_URL": redis.url,
            "GATEWAY_ISSUER": issuer,
            "GATEWAY_AUTH_ISSUER": issuer,
            "GATEWAY_UPSTREAMS": f"erp=http://127.0.0.1:{up_port}",
            "GATEWAY_RATE_LIMITS": "erp=1000000000/60",
            "GATEWAY_ACCESS_LOG": str(not args.no_access_log).lower(),
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "plantbridge",
                "gateway",
                "register-client",
                CLIENT_ID,
                "--scopes",
                "erp:read erp:write",
                "--secret",
                CLIENT_SECRET,
            ],
            env={**os.environ, **gw_env},
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        gateway = ServiceProcess("gateway", gw_env, port=gw_port, log_path=work / f"{kind}-gateway.log")
        services.append(gateway.start(timeout=60))
        token = httpx.post(
            f"{gateway.url}/oauth2/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        if kind == "erp":
            created = httpx.post(
                f"{gateway.url}/erp/v1/items",
                headers={"Authorization": f"Bearer {token}"},
                json={"item_id": "BENCH-1", "description": "benchmark item"},
            )
            assert created.status_code in (201, 409), created.text
        nginx, nginx_port = start_nginx(work, up_port)
        helpers.append(nginx)
        targets = [("direct", up_port), ("nginx", nginx_port), ("gateway", gw_port)]
        results = []
        for name, port in targets:
            url = f"http://127.0.0.1:{port}{path}"
            check = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert check.status_code == 200, f"{name}: {check.status_code} {check.text}"
            wrk(url, token, 2, args.connections)  # warm-up: pools, caches, JIT-less but hot paths
            result = wrk(url, token, args.duration, args.connections)
            result.name = name
            results.append(result)
        return results
    finally:
        for process in reversed(helpers):
            stop(process)
        for service in reversed(services):
            service.stop()


def report(kind: str, results: list[Result]) -> None:
    by = {r.name: r for r in results}
    direct, nginx = by["direct"], by["nginx"]
    print(f"\nupstream: {kind}")
    print(f"{'target':<9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'x direct':>10}{'x nginx':>9}{'non-2xx':>9}")
    for r in results:
        print(
            f"{r.name:<9}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.rps / direct.rps:>10.2f}"
            f"{r.rps / nginx.rps:>9.2f}{r.errors:>9}"
        )
    gw = by["gateway"]
    verdict = "meets" if gw.rps >= 0.5 * nginx.rps else "MISSES"
    print(
        f"gateway/nginx = {gw.rps / nginx.rps:.2f} ({verdict} the 0.5 target); "
        f"p50 x{gw.p50_ms / direct.p50_ms:.1f}, p99 x{gw.p99_ms / direct.p99_ms:.1f} of direct"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--upstream", default="hello,erp", help="comma-separated: hello, erp")
    parser.add_argument(
        "--no-access-log", action="store_true", help="measure without the gateway's access log"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            print(f"{tool} not found: apt-get install -y nginx wrk", file=sys.stderr)
            return 2
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis").start()
        try:
            print(
                f"wrk -t1 -c{args.connections} -d{args.duration}s; cores: {os.cpu_count()}; "
                f"load average before: {os.getloadavg()[0]:.2f}"
            )
            for kind in [k.strip() for k in args.upstream.split(",") if k.strip()]:
                started = time.monotonic()
                report(kind, bench_upstream(kind, work, redis, args))
                print(f"({time.monotonic() - started:.0f} s)")
        finally:
            redis.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
