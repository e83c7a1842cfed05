"""What a service keeps for as long as it runs: objects its handlers share, and background tasks.

Both are Litestar lifespans (or parts of one), so they start after the kernel's resources and
stop before them (contracts/kit/app.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

from litestar import Litestar, Request
from litestar.di import Provide

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


class Closing(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=Closing)


def kept(key: str, build: Callable[[Litestar], C]) -> Lifespan:
    """A lifespan that builds `build(app)` as the app starts (its clients, say), keeps it in
    `app.state[key]` for the handlers (`from_state(key)`) and later lifespans, and closes it
    when the app stops."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        held = build(app)
        app.state[key] = held
        try:
            yield
        finally:
            await held.aclose()

    return lifespan


def from_state(key: str) -> Provide:
    """A dependency handing a handler what `kept(key, ...)` keeps."""

    def provide(request: Request[Any, Any, Any]) -> Any:
        return request.app.state[key]

    return Provide(provide, sync_to_thread=False)


@asynccontextmanager
async def background(work: Mapping[str, Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Runs each coroutine as a task, named by its key, while the block runs. On leaving, cancels
    them in the order given, each ended before the next is cancelled; a task that had failed
    before then raises its error here, once all are ended, so it is not lost."""
    tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in work.items()]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            await asyncio.wait({task})
        for task in tasks:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error


__all__ = ["Closing", "Lifespan", "background", "from_state", "kept"]
