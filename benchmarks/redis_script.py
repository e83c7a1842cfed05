"""Client CPU per rate-limit check: the gateway's RESP client next to redis-py (with hiredis).

    .venv/bin/python benchmarks/redis_script.py [--calls 5000] [--rounds 3]

Both run the gateway's own rate-limit Lua script (gateway/ratelimit.py) by EVALSHA against one
real Redis server started here (no persistence: the client's CPU is what is measured, not the
disk), with 1 and with 32 checks in flight, as the gateway does one per request. The ratio is
the reason in docs/decisions/resp-client.md: if redis-py comes close, the reason has expired.
Not a test: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cpu import Client, compare, cpu_per_call  # noqa: E402
from gateway.ratelimit import SCRIPT  # noqa: E402
from gateway.resp import ScriptRunner  # noqa: E402
from plantbridge.processes import free_port, redis_server_binary, wait_for_port  # noqa: E402

KEYS = ["pb:rl:{bench}:c:client-1"]
ARGS = [1_000_000_000, 60_000]  # a quota never reached: every check runs the whole script


async def resp_client(url: str, calls: int, in_flight: int) -> float:
    runner = ScriptRunner(url, SCRIPT)
    try:
        return await cpu_per_call(lambda: runner(KEYS, ARGS), calls, in_flight)
    finally:
        runner.close()


async def redis_py(url: str, calls: int, in_flight: int) -> float:
    redis = Redis.from_url(url)
    script = redis.register_script(SCRIPT)
    try:
        return await cpu_per_call(lambda: script(keys=KEYS, args=ARGS), calls, in_flight)
    finally:
        await redis.aclose()


CLIENTS: dict[str, Client] = {
    "gateway resp.ScriptRunner": resp_client,
    "redis-py + hiredis": redis_py,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    server = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=server)  # type: ignore[arg-type]
        compare(
            "Rate-limit script by EVALSHA",
            CLIENTS,
            f"redis://127.0.0.1:{port}/0",
            calls=args.calls,
            rounds=args.rounds,
            in_flight=(1, 32),
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
