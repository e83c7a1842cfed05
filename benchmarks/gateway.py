"""Gateway hot-path benchmark: direct vs nginx vs HAProxy verifying JWTs vs the Plantbridge gateway.

    .venv/bin/python benchmarks/gateway.py [--rounds 3] [--duration 8] [--connections 32]
        [--upstream hello,erp] [--profile DIR]

Starts everything on loopback, as the embedded platform runs it: the platform Redis (append-only,
fsync always; the gateway's revocation list and deprecation ledger) and the gateway's counter
Redis (memory only; rate limits), the upstream(s), Debian's nginx (one worker, keep-alive upstream
pool), Debian's HAProxy (one thread: RS256 `jwt_verify`, alg/exp/iss/aud checks, a per-`sub`
stick-table limit, routing; STACK-NOTES) and the gateway (one granian worker) doing what it does
in production: token check with revocation, sliding-window rate limit in Redis (one Lua script
per request), routing, access log, metrics. Every target sees the same bearer token. Each round
runs every target once (`wrk -t1 -cN --latency` after a warm-up); the table shows medians over
the rounds, so a burst of load from elsewhere on the machine moves one round, not the figure.

Upstreams: `hello` is a minimal Litestar app on granian (the proxy's own cost shows most);
`erp` is the real ERP service reading one item (SQLite) under its own token check.
The CPU column is each target's own CPU time per request (Linux /proc; the gateway's counter Redis
counts as the gateway's): a figure that moves less with the machine's load than req/s do.
`--profile DIR` records the gateway with py-spy during one extra run (DIR/gateway-<upstream>.svg).
Needs `wrk`, `nginx` and `haproxy` on PATH (`apt-get install -y nginx wrk haproxy`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plantbridge.processes import RedisServer, ServiceProcess, free_port, wait_for_port  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret-0123456789"
TARGETS = ("direct", "nginx", "haproxy-jwt", "gateway")


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float = 0.0  # CPU of the target's own processes per request (the upstream's, for direct)


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU of these processes and all their descendants so far (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    chosen, frontier = set(roots), list(roots)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in chosen]
        chosen.update(children)
        frontier += children
    return sum(times.get(pid, 0.0) for pid in chosen)


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


def start_haproxy(
    work: Path, upstream_port: int, issuer: str, public_pem: bytes
) -> tuple[subprocess.Popen[bytes], int]:
    """HAProxy doing the gateway's checks in C (STACK-NOTES): RS256 signature, alg, exp, iss, aud,
    a per-`sub` stick-table rate limit, the bearer token removed, routing by path; one thread."""
    port = free_port()
    folder = work / "haproxy"
    folder.mkdir(exist_ok=True)
    key = folder / "jwt-public.pem"
    key.write_bytes(public_pem)
    conf = folder / "haproxy.cfg"
    conf.write_text(f"""
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend api
  bind 127.0.0.1:{port}
  http-request set-var(txn.bearer) http_auth_bearer
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_header_query('$.alg') -m str RS256 }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_verify("RS256","{key}") -m int 1 }}
  http-request set-var(txn.now) date()
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request deny deny_status 401 if {{ var(txn.exp),sub(txn.now) -m int lt 0 }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_payload_query('$.iss') -m str {issuer} }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_payload_query('$.aud') -m str plantbridge }}
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request track-sc0 var(txn.sub) table per_sub
  http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 1000000000 }}
  http-request del-header Authorization
  use_backend erp if {{ path_beg /erp/v1 }}
backend per_sub
  stick-table type string len 64 size 100k expire 60s store http_req_rate(10s)
backend erp
  server up 127.0.0.1:{upstream_port}
""")
    process = subprocess.Popen(["haproxy", "-f", str(conf)], stderr=subprocess.DEVNULL)
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


def signing_key_pem(gateway_url: str, token: str) -> bytes:
    """The public half of the key that signed `token`, from the gateway's JWKS, as PEM for HAProxy."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    keys = httpx.get(f"{gateway_url}/.well-known/jwks.json").json()["keys"]
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    return bytes(RSAKey.import_key(jwk).as_pem(private=False))


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--subprocesses",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def bench_upstream(
    kind: str, work: Path, redis: RedisServer, counters: RedisServer, args: argparse.Namespace
) -> dict[str, list[Result]]:
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
            "GATEWAY_RATE_LIMIT_REDIS_URL": counters.url,
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
                f"--secret={CLIENT_SECRET}",
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
        haproxy, haproxy_port = start_haproxy(work, up_port, issuer, signing_key_pem(gateway.url, token))
        helpers.append(haproxy)
        ports = dict(zip(TARGETS, (up_port, nginx_port, haproxy_port, gw_port), strict=True))
        upstream = helpers[0] if kind == "hello" else services[0].process
        assert upstream is not None
        assert gateway.process is not None
        assert counters.process is not None
        processes = {  # whose CPU each target costs: the gateway's counter Redis is part of it
            "direct": [upstream.pid],
            "nginx": [nginx.pid],
            "haproxy-jwt": [haproxy.pid],
            "gateway": [gateway.process.pid, counters.process.pid],
        }
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}{path}"
            check = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert check.status_code == 200, f"{name}: {check.status_code} {check.text}"
            if name == "haproxy-jwt":  # it really checks: a tampered token is refused
                forged = httpx.get(url, headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
                assert forged.status_code == 401, f"haproxy accepted a forged token: {forged.status_code}"
            wrk(url, token, 2, args.connections)  # warm-up: pools, caches, hot paths
        results: dict[str, list[Result]] = {name: [] for name in TARGETS}
        for round_ in range(args.rounds):
            for name, port in ports.items():
                before = cpu_seconds(processes[name])
                result = wrk(f"http://127.0.0.1:{port}{path}", token, args.duration, args.connections)
                result.cpu_us = (cpu_seconds(processes[name]) - before) / (result.rps * args.duration) * 1e6
                result.name = name
                results[name].append(result)
            print(f"  round {round_ + 1}: load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.profile:
            out = Path(args.profile).resolve() / f"gateway-{kind}.svg"
            out.parent.mkdir(parents=True, exist_ok=True)
            assert gateway.process is not None
            spy = profile(gateway.process.pid, args.duration, out)
            wrk(f"http://127.0.0.1:{gw_port}{path}", token, args.duration, args.connections)
            spy.wait(30)
            print(f"  profile of the gateway: {out}")
        return results
    finally:
        for process in reversed(helpers):
            stop(process)
        for service in reversed(services):
            service.stop()


def median(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        statistics.median(r.cpu_us for r in results),
    )


def report(kind: str, results: dict[str, list[Result]]) -> None:
    by = {name: median(runs) for name, runs in results.items()}
    direct, haproxy, gw = by["direct"], by["haproxy-jwt"], by["gateway"]
    rounds = len(results["direct"])
    print(f"\nupstream: {kind} (medians of {rounds} rounds)")
    print(
        f"{'target':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x direct':>10}{'CPU us/req':>12}"
        f"{'rounds (req/s)':>28}{'non-2xx':>9}"
    )
    for name, r in by.items():
        each = " ".join(f"{x.rps:.0f}" for x in results[name])
        print(
            f"{name:<12}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.rps / direct.rps:>10.2f}"
            f"{r.cpu_us:>12.0f}{each:>28}{r.errors:>9}"
        )
    print("(CPU us/req: the target's own processes; for direct the upstream's, which every target also pays)")
    throughput, tail = gw.rps / haproxy.rps, gw.p99_ms / haproxy.p99_ms
    print(
        f"gateway / haproxy-jwt: throughput {throughput:.2f} ({'meets' if throughput >= 0.6 else 'MISSES'}"
        f" the 0.6 target), p99 {tail:.2f} x ({'meets' if tail <= 2 else 'MISSES'} the 2 x target)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--upstream", default="hello,erp", help="comma-separated: hello, erp")
    parser.add_argument("--profile", default="", help="folder for a py-spy flame graph of the gateway")
    parser.add_argument(
        "--no-access-log", action="store_true", help="measure without the gateway's access log"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "haproxy", *(["py-spy"] if args.profile else [])):
        if not shutil.which(tool) and not (Path(sys.executable).parent / tool).exists():
            print(f"{tool} not found: apt-get install -y nginx wrk haproxy (py-spy: pip)", file=sys.stderr)
            return 2
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis").start()
        counters = RedisServer(work / "counters", durable=False).start()
        try:
            print(
                f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} rounds; "
                f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}"
            )
            for kind in [k.strip() for k in args.upstream.split(",") if k.strip()]:
                started = time.monotonic()
                report(kind, bench_upstream(kind, work, redis, counters, args))
                print(f"({time.monotonic() - started:.0f} s)")
        finally:
            counters.stop()
            redis.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
