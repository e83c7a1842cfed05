"""contracts/kit/lifetimes.py: background tasks end in order and a failure is not lost; what a
service keeps is closed when it stops."""

from __future__ import annotations

import asyncio

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.testing import TestClient

from contracts.kit.lifetimes import background, from_state, kept


async def test_background_cancels_in_order_and_waits_for_each() -> None:
    ended: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # a task that takes a moment to wind down
            ended.append(name)

    async with background({"first": forever("first"), "second": forever("second")}):
        await asyncio.sleep(0)
    assert ended == ["first", "second"]


async def test_a_task_that_failed_raises_when_the_block_ends_after_the_others_are_ended() -> None:
    others: list[str] = []

    async def fails() -> None:
        raise RuntimeError("broken")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            others.append("ended")

    with pytest.raises(RuntimeError, match="broken"):
        async with background({"fails": fails(), "forever": forever()}):
            await asyncio.sleep(0.01)
    assert others == ["ended"]


class Held:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_kept_is_handed_to_handlers_and_closed_when_the_app_stops() -> None:
    held = Held()

    @get("/held", sync_to_thread=False)
    def read(thing: NamedDependency[Held]) -> dict[str, bool]:
        return {"same": thing is held, "closed": thing.closed}

    app = Litestar(
        [read], dependencies={"thing": from_state("thing")}, lifespan=[kept("thing", lambda _: held)]
    )
    with TestClient(app) as client:
        assert client.get("/held").json() == {"same": True, "closed": False}
    assert held.closed
