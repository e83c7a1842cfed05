"""Measuring this process's CPU per operation, the way every decision benchmark reports it."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import uvloop

Operation = Callable[[], Awaitable[object]]
# (target, calls, in_flight) -> CPU µs per call: one client of the thing measured
Client = Callable[[str, int, int], Awaitable[float]]


async def cpu_per_call(operation: Operation, calls: int, in_flight: int = 1, warm_up: int = 50) -> float:
    """CPU µs of this process per call of `operation`, with `in_flight` calls at a time."""
    for _ in range(warm_up):
        await operation()
    queue = iter(range(calls))

    async def worker() -> None:
        for _ in queue:
            await operation()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return (time.process_time() - started) / calls * 1e6


def table(title: str, columns: Sequence[str], rows: dict[str, Sequence[float]], baseline: str) -> None:
    """Print µs per call and, for each column, the ratio to the baseline row."""
    print(f"\n{title} (µs of CPU per call; x = times the {baseline})")
    print(f"{'':<28}" + "".join(f"{c:>14}{'x':>7}" for c in columns))
    for name, values in rows.items():
        cells = "".join(f"{v:>14,.0f}{v / rows[baseline][i]:>7.1f}" for i, v in enumerate(values))
        print(f"{name:<28}{cells}")


def median_of(rounds: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(rounds))


def compare(
    title: str,
    clients: Mapping[str, Client],
    target: str,
    *,
    calls: int,
    rounds: int,
    in_flight: Sequence[int],
) -> None:
    """Each client against `target`, median of `rounds`, at each level of concurrency; the first
    client is the baseline the others are divided by."""
    rows = {
        name: [
            median_of(rounds, lambda client=client, n=n: uvloop.run(client(target, calls, n)))  # type: ignore[misc]
            for n in in_flight
        ]
        for name, client in clients.items()
    }
    table(
        f"{title}, median of {rounds} x {calls}",
        [f"{n} in flight" for n in in_flight],
        rows,
        next(iter(clients)),
    )
