"""The one way a test waits for something that happens asynchronously (a flow, a relay pass, an
event, a span): poll a check until it gives a truthy value.

    lot = eventually(lambda: inspection_lot_for(qms, lot_id))            # a plain check
    await eventually(lambda: applied(db, event_id), what="the effect")   # a check that is awaited

The timeout only guards against hanging: it is never an assertion on speed (those belong in
benchmarks/), so it is generous, and a test never sleeps a fixed time to wait for something.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

TIMEOUT = 30.0
INTERVAL = 0.05


@overload
def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> Awaitable[T]: ...


@overload
def eventually(
    check: Callable[[], T], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...


def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
    what: str = "the condition",
) -> Any:
    """Call `check` until it returns something truthy and return that; fail the test naming
    `what` and the last value seen after `timeout` seconds. A check returning an awaitable makes
    this an awaitable, so one helper serves sync and async tests alike."""
    patience = _Patience(timeout, what)
    first = check()
    if inspect.isawaitable(first):
        return _eventually_async(check, first, patience, interval)
    value = first
    while not value:
        patience.check(value)
        time.sleep(interval)
        value = check()
    return value


async def _eventually_async(
    check: Callable[[], Awaitable[Any]], first: Awaitable[Any], patience: _Patience, interval: float
) -> Any:
    value = await first
    while not value:
        patience.check(value)
        await asyncio.sleep(interval)
        value = await check()
    return value


class _Patience:
    def __init__(self, timeout: float, what: str) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what

    def check(self, last: Any) -> None:
        if time.monotonic() > self.deadline:
            raise AssertionError(
                f"gave up waiting for {self.what} after {self.timeout:g}s (last check gave {last!r:.300})"
            )
