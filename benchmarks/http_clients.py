"""Client CPU per service-to-service call: the kernel's HTTP/1.1 pool next to httpx and aiohttp.

    .venv/bin/python benchmarks/http_clients.py [--calls 3000] [--rounds 3]

Needs aiohttp (`.venv/bin/pip install -e '.[bench]'`). One loopback server in its own process
(granian, one worker, a minimal Litestar app) answers every call; the clients run here, one after
the other, each on uvloop, with 1 and with 16 calls in flight. What is counted is this process's
CPU time per call (the server's is not), so the figure is what a process API pays per call to a
system API. Each client keeps its connections alive across calls, as the typed clients do.

The last columns are the reason in docs/decisions/http1-client.md: how many times the kernel's
client each library costs. If a library comes close (ratio near 1), the reason has expired.
Not a test: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cpu import Client, compare, cpu_per_call  # noqa: E402
from contracts.kit.http1 import Pool  # noqa: E402
from plantbridge.processes import free_port, wait_for_port  # noqa: E402

PATH = "/erp/v1/items/BENCH-1"


async def kernel_pool(base: str, calls: int, in_flight: int) -> float:
    pool = Pool(base, size=32, connect_timeout=5, timeout=5)

    async def call() -> int:
        status, _, _ = await pool.request("GET", PATH.encode(), [(b"accept", b"application/json")], b"")
        assert status == 200, status
        return status

    try:
        return await cpu_per_call(call, calls, in_flight)
    finally:
        pool.close()


async def httpx_client(base: str, calls: int, in_flight: int) -> float:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=5) as client:

        async def call() -> int:
            response = await client.get(PATH, headers={"accept": "application/json"})
            assert response.status_code == 200, response.status_code
            return response.status_code

        return await cpu_per_call(call, calls, in_flight)


async def aiohttp_client(base: str, calls: int, in_flight: int) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def call() -> int:
            async with session.get(PATH, headers={"accept": "application/json"}) as response:
                await response.read()
                assert response.status == 200, response.status
                return response.status

        return await cpu_per_call(call, calls, in_flight)


CLIENTS: dict[str, Client] = {
    "kernel http1.Pool": kernel_pool,
    "httpx AsyncClient": httpx_client,
    "aiohttp ClientSession": aiohttp_client,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs per client")
    args = parser.parse_args()
    try:
        import sniffio  # noqa: F401  # httpcore 1.0.9 retries a failed import on every call without it
    except ImportError:
        print("note: sniffio is not installed; httpx pays for a failed import on every call (httpcore #1103)")
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1", "--no-ws", "--log-level", "warning"),
            "benchmarks.hello_upstream:create_app",
        ],
        cwd=ROOT,
    )
    try:
        wait_for_port(port, timeout=30, process=server)
        compare(
            "Client CPU per call to a loopback server",
            CLIENTS,
            f"http://127.0.0.1:{port}",
            calls=args.calls,
            rounds=args.rounds,
            in_flight=(1, 16),
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
