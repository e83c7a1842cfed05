"""What Litestar's concurrent dependency resolution costs a handler whose providers are sync.

    .venv/bin/python benchmarks/dependencies.py [--calls 5000] [--rounds 3]

CPU per request of one GET whose handler takes three sync providers (`sync_to_thread=False`, as
the kit's session and the ERP's backend and operation id are), called in process through the
ASGI interface (no socket): as Litestar 2.25 resolves them (one anyio task group per request,
a task per provider) against the kit's `resolve_sync_providers_inline` (one after another), and
a handler with one provider as the floor. docs/decisions/sync-dependencies-inline.md says why;
if the ratio comes near 1, Litestar has fixed it (litestar-org/litestar#4563) and the kit's pass
can go. Not a test: it prints numbers, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from litestar import Litestar, get
from litestar.di import NamedDependency, Provide

from contracts.kit.dependencies import resolve_sync_providers_inline

Dep = NamedDependency[str]


def _one() -> str:
    return "1"


def _two() -> str:
    return "2"


def _three() -> str:
    return "3"


@get("/three", sync_to_thread=False)
def three(one: Dep, two: Dep, three: Dep) -> str:
    return one + two + three


@get("/one", sync_to_thread=False)
def one(one: Dep) -> str:
    return one


def _app(*, inline: bool) -> Litestar:
    providers = {
        name: Provide(f, sync_to_thread=False)
        for name, f in (("one", _one), ("two", _two), ("three", _three))
    }
    app = Litestar([three, one], dependencies=providers, logging_config=None)
    if inline:
        resolve_sync_providers_inline(app)
    return app


async def _call(app: Litestar, path: str) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert status == 200, status


async def _cpu_per_call(app: Litestar, path: str, calls: int) -> float:
    for _ in range(200):
        await _call(app, path)
    start = time.process_time()
    for _ in range(calls):
        await _call(app, path)
    return (time.process_time() - start) / calls * 1e6


async def main(args: argparse.Namespace) -> None:
    cases = [
        ("three sync providers, Litestar's task group", _app(inline=False), "/three"),
        ("three sync providers, resolved inline (kit)", _app(inline=True), "/three"),
        ("one provider (the floor)", _app(inline=False), "/one"),
    ]
    best: dict[str, float] = {}
    for _ in range(args.rounds):  # alternating, so drift from other load hits every case alike
        for label, app, path in cases:
            cpu = await _cpu_per_call(app, path, args.calls)
            best[label] = min(best.get(label, cpu), cpu)
    for label, cpu in best.items():
        print(f"{label:46s} {cpu:7.1f} µs CPU per request")
    grouped, inline = best[cases[0][0]], best[cases[1][0]]
    print(f"task group / inline: {grouped / inline:.2f}x ({grouped - inline:.0f} µs per request)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
